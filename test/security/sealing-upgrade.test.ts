// Upgrading to SEALING_KEY loses nothing: queued mail, TOTP seeds, recovery codes and refresh
// successors stored by the previous version (sealed and keyed under SECRET_KEY) still work after
// SEALING_KEY is set, and what is written from then on is under SEALING_KEY, not SECRET_KEY.
import { Secret, TOTP } from 'otpauth'
import { describe, expect, it } from 'vitest'
import { createSealer } from '../../src/security/sealing.js'
import { build, buildShared, tempDir, TEST_SECRET, tokenRequest } from '../helper.js'
import { startSmtpServer } from '../support/smtp.js'

const SEALING_KEY = 'f'.repeat(16) + '0123456789abcdef'.repeat(3)
const PASSWORD = 'alice-password'
const OTP_GRANT = 'http://auth0.com/oauth/grant-type/mfa-otp'
const RECOVERY_GRANT = 'http://auth0.com/oauth/grant-type/mfa-recovery-code'

const code = (secret: string, offset = 0) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * 30_000 })
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

interface Tokens {
  access_token: string
  refresh_token: string
}

describe('introducing SEALING_KEY to an installation sealed under SECRET_KEY', () => {
  it('keeps queued mail, TOTP seeds, recovery codes and refresh successors, resealing the seed on use', async () => {
    const dir = tempDir()
    const smtp = await startSmtpServer()
    const env = { REFRESH_REUSE_GRACE_SECONDS: '600' }

    // The previous version: no SEALING_KEY, and a mail server that is down, so mail stays queued.
    const before = await buildShared({ dir, env: { ...env, SMTP_URL: 'smtp://127.0.0.1:1' } })
    expect(before.config.sealingKey).toBeUndefined()
    await before.addUser({
      username: 'alice',
      password: PASSWORD,
      email: 'alice@example.com',
      scopes: ['me', 'items'],
    })
    const access = await before.login('alice', PASSWORD)
    const start = await before.app.inject({
      method: 'POST',
      url: '/users/me/mfa/totp',
      headers: bearer(access),
    })
    const { secret } = start.json<{ secret: string }>()
    const confirm = await before.app.inject({
      method: 'POST',
      url: '/users/me/mfa/totp/confirm',
      headers: bearer(access),
      payload: { code: code(secret, -1) },
    })
    expect(confirm.statusCode).toBe(200)
    const recoveryCodes = confirm.json<{ recovery_codes: string[] }>().recovery_codes
    const userId = (await before.store.findUserByUsername('alice'))!.id
    const oldSeal = (await before.store.findTotp(userId))!.sealedSecret
    expect(createSealer(TEST_SECRET, 'totp secrets').open(oldSeal, `totp:${userId}`)).toBe(secret)

    // A session rotated once: its successor is kept sealed for the grace.
    const mfaToken = (
      await before.app.inject(tokenRequest({ username: 'alice', password: PASSWORD }))
    ).json<{ mfa_token: string }>().mfa_token
    const session = (
      await before.app.inject(
        tokenRequest({ grant_type: OTP_GRANT, mfa_token: mfaToken, otp: code(secret) }),
      )
    ).json<Tokens>()
    const rotated = await before.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh_token }),
    )
    expect(rotated.statusCode).toBe(200)
    const successor = rotated.json<Tokens>().refresh_token

    // A reset link queued, not sent yet.
    const reset = await before.app.inject({
      method: 'POST',
      url: '/password-reset',
      payload: { email: 'alice@example.com' },
    })
    expect(reset.statusCode).toBe(202)
    await before.close()

    // The upgrade: SEALING_KEY set, SECRET_KEY unchanged.
    const after = await build({ dir, env: { ...env, SMTP_URL: smtp.url, SEALING_KEY } })
    expect(after.config.sealingKey).toBe(SEALING_KEY)

    // Once its retry is due: sent, not given up as unreadable.
    const run = await after.services.mailer.runOnce(Date.now() + 3_600_000)
    expect(run).toMatchObject({ retried: 0, failed: 0 })
    expect(run.sent).toBeGreaterThanOrEqual(1)
    expect(smtp.messages.map((mail) => mail.text).join()).toMatch(/reset-password\?token=/)

    const retry = await after.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh_token }),
    )
    expect(retry.statusCode).toBe(200)
    expect(retry.json<Tokens>().refresh_token).toBe(successor)

    const second = (
      await after.app.inject(tokenRequest({ username: 'alice', password: PASSWORD }))
    ).json<{ mfa_token: string }>().mfa_token
    const otp = await after.app.inject(
      tokenRequest({ grant_type: OTP_GRANT, mfa_token: second, otp: code(secret, 1) }),
    )
    expect(otp.statusCode).toBe(200)
    // Sealed again on that use: under SEALING_KEY now, and SECRET_KEY alone no longer opens it.
    const newSeal = (await after.store.findTotp(userId))!.sealedSecret
    expect(newSeal).not.toBe(oldSeal)
    expect(createSealer(SEALING_KEY, 'totp secrets').open(newSeal, `totp:${userId}`)).toBe(secret)
    expect(createSealer(TEST_SECRET, 'totp secrets').open(newSeal, `totp:${userId}`)).toBe(
      undefined,
    )

    const third = (
      await after.app.inject(tokenRequest({ username: 'alice', password: PASSWORD }))
    ).json<{ mfa_token: string }>().mfa_token
    const recovered = await after.app.inject(
      tokenRequest({
        grant_type: RECOVERY_GRANT,
        mfa_token: third,
        recovery_code: recoveryCodes[0]!,
      }),
    )
    expect(recovered.statusCode).toBe(200)
    expect((await after.services.mfa.status(userId)).recovery_codes_left).toBe(9)
  })

  it('seals what is written after it under SEALING_KEY: SECRET_KEY alone opens none of it', async () => {
    const t = await build({ env: { SEALING_KEY, SMTP_URL: 'smtp://127.0.0.1:1' } })
    await t.addUser({ username: 'bob', password: PASSWORD, email: 'bob@example.com' })
    const access = await t.login('bob', PASSWORD)
    await t.app.inject({ method: 'POST', url: '/users/me/mfa/totp', headers: bearer(access) })
    const userId = (await t.store.findUserByUsername('bob'))!.id
    const sealed = (await t.store.findTotp(userId))!.sealedSecret
    expect(createSealer(TEST_SECRET, 'totp secrets').open(sealed, `totp:${userId}`)).toBe(undefined)
    expect(createSealer(SEALING_KEY, 'totp secrets').open(sealed, `totp:${userId}`)).toMatch(
      /^[A-Z2-7]+$/,
    )
  })
})
