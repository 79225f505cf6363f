// Authorization decided from the state as it is now, not from a snapshot: scopes removed from a
// user, credentials changed while logins are in flight, keys rotated on another instance, and the
// password change endpoint that must not be a password oracle.
import { Secret, TOTP } from 'otpauth'
import { describe, expect, it } from 'vitest'
import { build, captureLogs, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'
import { startSmtpServer } from '../support/smtp.js'

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

interface Tokens {
  access_token: string
  refresh_token: string
}

describe('scopes come from the user as they are now', () => {
  it('a demoted admin loses admin on his next request and cannot grant it back to himself', async () => {
    const t = await build()
    for (const username of ['root', 'bob']) {
      await t.addUser({ username, password: `${username}-passphrase`, scopes: ['me', 'admin'] })
    }
    const root = await t.login('root', 'root-passphrase')
    const bob = await t.login('bob', 'bob-passphrase')
    const demote = await t.app.inject({
      method: 'PATCH',
      url: '/admin/users/bob',
      headers: bearer(root),
      payload: { scopes: ['me'] },
    })
    expect(demote.statusCode).toBe(200)

    const list = await t.app.inject({ method: 'GET', url: '/admin/users', headers: bearer(bob) })
    expect(list.statusCode).toBe(403)
    expect(list.headers['www-authenticate']).toContain('insufficient_scope')
    const regrant = await t.app.inject({
      method: 'PATCH',
      url: '/admin/users/bob',
      headers: bearer(bob),
      payload: { scopes: ['me', 'items', 'admin'] },
    })
    expect(regrant.statusCode).toBe(403)
    expect((await t.store.findUserByUsername('bob'))?.scopes).toEqual(['me'])
    // What he still holds keeps working with the same token.
    expect(
      (await t.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(bob) })).statusCode,
    ).toBe(200)
  })

  it('a scope granted again is usable again, but never beyond what the token was issued with', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password', scopes: ['me'] })
    const token = await t.login('alice', 'alice-password')
    await t.services.accounts.setScopes('alice', ['me', 'items'], TEST_ACTOR)
    const items = () =>
      t.app.inject({ method: 'GET', url: '/users/me/items/', headers: bearer(token) })
    // The token was issued with `me` only: a later grant does not widen it.
    expect((await items()).statusCode).toBe(403)
    await t.services.accounts.setScopes('alice', null, TEST_ACTOR)
    expect(
      (await t.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(token) })).statusCode,
    ).toBe(200)
  })
})

/**
 * Logins of `alice` started together, each held after its password check, before its session is
 * opened, and `change` acknowledged while they wait: whatever the order, no session opened with the
 * old credentials may work afterwards.
 */
async function raceLogins(t: TestApp, change: () => Promise<void>) {
  const count = 5
  // The signal: every login has read the user and checked the password, and is about to open its
  // session (a success is not held at the timing floor, so the test holds it there itself).
  const { sessions } = t.services
  const start = sessions.start.bind(sessions)
  let waiting = 0
  let allWaiting: () => void = () => undefined
  const checked = new Promise<void>((resolve) => (allWaiting = resolve))
  let release: () => void = () => undefined
  const changeDone = new Promise<void>((resolve) => (release = resolve))
  sessions.start = async (...args) => {
    if (++waiting === count) allWaiting()
    await changeDone
    return start(...args)
  }
  const logins = Array.from({ length: count }, () =>
    t.app
      .inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
      .then((response) => ({ response, answeredAt: Date.now() })),
  )
  await checked
  await change()
  const changedAt = Date.now()
  release()
  const answers = await Promise.all(logins)
  // Every login was held past the change: the race was really run.
  expect(answers.every(({ answeredAt }) => answeredAt >= changedAt)).toBe(true)
  for (const { response } of answers) {
    if (response.statusCode !== 200) {
      expect(response.statusCode).toBe(401)
      continue
    }
    const tokens = response.json<Tokens>()
    const me = await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: bearer(tokens.access_token),
    })
    expect(me.statusCode).not.toBe(200)
    const refresh = await t.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    )
    expect(refresh.statusCode).toBe(400)
  }
  return answers.map(({ response }) => response.statusCode)
}

for (const driver of ['SQLite', 'PostgreSQL'] as const) {
  describe.skipIf(driver === 'PostgreSQL' && skipPostgres)(
    `credential changes win over logins in flight (${driver})`,
    () => {
      const open = async () => {
        const databaseUrl = driver === 'PostgreSQL' ? (await freshSchema()).url : undefined
        const t = await build({ databaseUrl, env: { LOGIN_MIN_DURATION_MS: '1500' } })
        await t.addUser({ username: 'alice', password: 'alice-password' })
        return t
      }

      it('a password reset ends the logins that verified the old password', async () => {
        const t = await open()
        const codes = await raceLogins(t, () =>
          t.services.accounts.setPassword('alice', 'a-brand-new-password', TEST_ACTOR),
        )
        expect(codes).toEqual([401, 401, 401, 401, 401])
        const fresh = await t.app.inject(
          tokenRequest({ username: 'alice', password: 'a-brand-new-password' }),
        )
        expect(fresh.statusCode).toBe(200)
      })

      it('disabling and enabling again does not let a login in flight through', async () => {
        const t = await open()
        const codes = await raceLogins(t, async () => {
          await t.services.accounts.setDisabled('alice', true, TEST_ACTOR)
          await t.services.accounts.setDisabled('alice', false, TEST_ACTOR)
        })
        expect(codes).toEqual([401, 401, 401, 401, 401])
      })

      it('ending every session of the user ends the logins in flight too', async () => {
        const t = await open()
        await raceLogins(t, () => t.services.accounts.endSessions('alice', TEST_ACTOR))
      })
    },
  )
}

describe('POST /users/me/password goes through the password pipeline', () => {
  const change = (t: TestApp, token: string, current: string, next: string) =>
    t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(token),
      payload: { current_password: current, new_password: next },
    })

  it('says nothing about the current password when the new one is refused', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const token = await t.login('alice', 'alice-password')
    const wrong = await change(t, token, 'not-her-password', 'x')
    const right = await change(t, token, 'alice-password', 'x')
    expect(wrong.statusCode).toBe(400)
    expect(wrong.body).toBe(right.body)
    expect(wrong.json<{ detail: string }>().detail).toMatch(/at least 8 characters/)
  })

  it('is throttled like logins: wrong current passwords run into 429', async () => {
    const t = await build({ env: { THROTTLE_PAIR_LIMIT: '3' } })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const token = await t.login('alice', 'alice-password')
    const codes: number[] = []
    for (let i = 0; i < 5; i++) {
      codes.push((await change(t, token, `guess-${i}-password`, 'a-new-passphrase')).statusCode)
    }
    expect(codes).toEqual([400, 400, 400, 429, 429])
    const audit = await t.services.auditLog.page({ limit: 10 })
    expect(audit.filter((event) => event.type === 'password_change').map((e) => e.outcome)).toEqual(
      ['throttled', 'throttled', 'incorrect_password', 'incorrect_password', 'incorrect_password'],
    )
  })

  it('is padded to the login floor when the current password is wrong, not when it is right', async () => {
    const t = await build({ env: { LOGIN_MIN_DURATION_MS: '1500' } })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const token = await t.login('alice', 'alice-password')
    let started = performance.now()
    const wrong = await change(t, token, 'not-her-password', 'a-new-passphrase')
    expect(wrong.statusCode).toBe(400)
    expect(performance.now() - started).toBeGreaterThanOrEqual(1500)
    started = performance.now()
    const right = await change(t, token, 'alice-password', 'a-new-passphrase')
    expect(right.statusCode).toBeLessThan(300)
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe('signing keys rotated on another instance', () => {
  it('POST /revoke with an access token of a key this instance has not loaded yet revokes it', async () => {
    const env = { ALGORITHM: 'EdDSA' }
    const t = await build({ env })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const other = await build({ dir: t.dir, env })
    await other.services.keys.rotate({ name: 'cli:ops', ip: null, userAgent: null })
    const token = await other.login('alice', 'alice-password')
    const revoke = await t.app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    })
    expect(revoke.statusCode).toBe(200)
    const me = await other.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(token) })
    expect(me.statusCode).toBe(401)
  })
})

describe('the audit log under a flood of junk logins', () => {
  it('grows by a bounded number of rows, whatever one client sends', async () => {
    const t = await build({
      env: { AUDIT_EVENTS_PER_CLIENT_PER_MINUTE: '5', THROTTLE_PAIR_LIMIT: '2' },
    })
    const junk = 'x'.repeat(200)
    for (let i = 0; i < 200; i++) {
      await t.app.inject(tokenRequest({ username: `${junk}${i % 3}`, password: junk }))
    }
    await t.services.close()
    const rows = await t.store.listAudit({ limit: 1_000 })
    // Five bad_credentials and five throttled rows, plus a summary of each kind held back.
    expect(rows.length).toBeLessThanOrEqual(12)
    expect(rows.some((row) => /similar events suppressed/.test(row.detail ?? ''))).toBe(true)
    const bytes = rows.reduce((sum, row) => sum + JSON.stringify(row).length, 0)
    expect(bytes).toBeLessThan(12 * 1_024)
  })
})

describe('instances sharing a database without ISSUER', () => {
  it('accept each other’s tokens, each advertising its own address', async () => {
    const first = await build({ env: { PORT: '8130' } })
    await first.addUser({ username: 'alice', password: 'alice-password' })
    const second = await build({ dir: first.dir, env: { PORT: '8131' } })
    const fromSecond = await second.login('alice', 'alice-password')
    const fromFirst = await first.login('alice', 'alice-password')
    for (const [t, token] of [
      [first, fromSecond],
      [second, fromFirst],
    ] as const) {
      const me = await t.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(token) })
      expect(me.statusCode).toBe(200)
    }
    const metadata = await second.app.inject({
      method: 'GET',
      url: '/.well-known/oauth-authorization-server',
    })
    expect(metadata.json<{ issuer: string }>().issuer).toBe('http://127.0.0.1:8131')
  })

  it('with different ISSUERs refuse each other’s tokens and say why in the log, once', async () => {
    const logs = captureLogs()
    const first = await build({ env: { ISSUER: 'https://a.example.com' }, logs: logs.stream })
    await first.addUser({ username: 'alice', password: 'alice-password' })
    const second = await build({ dir: first.dir, env: { ISSUER: 'https://b.example.com' } })
    const token = await second.login('alice', 'alice-password')
    for (let i = 0; i < 3; i++) {
      const me = await first.app.inject({
        method: 'GET',
        url: '/users/me/',
        headers: bearer(token),
      })
      expect(me.statusCode).toBe(401)
    }
    const hints = logs
      .text()
      .split('\n')
      .filter((line) => line.includes('ISSUER'))
    expect(hints).toHaveLength(1)
    expect(JSON.parse(hints[0]!)).toMatchObject({ level: 30 })
    expect(logs.text()).not.toContain(token)
  })
})

/** The code of a TOTP `secret` now. */
const totpNow = (secret: string) => TOTP.generate({ secret: Secret.fromBase32(secret) })

for (const driver of ['SQLite', 'PostgreSQL'] as const) {
  describe.skipIf(driver === 'PostgreSQL' && skipPostgres)(
    `every write to a user row reaches the sessions it already has (${driver})`,
    () => {
      it('shows each change on /users/me/ of an existing session at its next request', async () => {
        const smtp = await startSmtpServer()
        const databaseUrl = driver === 'PostgreSQL' ? (await freshSchema()).url : undefined
        const t = await build({
          databaseUrl,
          env: { SMTP_URL: smtp.url, ISSUER: 'http://gh.test' },
        })
        await t.app.ready()
        await t.addUser({ username: 'root', password: 'root-passphrase', scopes: ['me', 'admin'] })
        await t.addUser({ username: 'alice', email: 'a@example.com', password: 'alice-passphrase' })
        const root = bearer(await t.login('root', 'root-passphrase'))
        let alice = await t.login('alice', 'alice-passphrase')
        const me = async (token = alice) => {
          const response = await t.app.inject({
            method: 'GET',
            url: '/users/me/',
            headers: bearer(token),
          })
          return { status: response.statusCode, body: response.json<Record<string, unknown>>() }
        }
        const admin = (payload: object) =>
          t.app.inject({ method: 'PATCH', url: '/admin/users/alice', headers: root, payload })
        // Remembered by this instance from here on: each check below is of a cached owner.
        expect((await me()).body).toMatchObject({ email: 'a@example.com', email_verified: false })

        // The verification link (the recovery service's write to the user row).
        const link = /verify-email\?token=([\w-]{43})/.exec((await smtp.nth(1)).text ?? '')![1]!
        const verified = await t.app.inject({
          method: 'POST',
          url: '/verify-email',
          payload: { token: link },
        })
        expect(verified.statusCode).toBe(204)
        expect((await me()).body).toMatchObject({ email_verified: true })

        // An address set by an admin waits for verification; an operator verifies it (the CLI's use-case).
        expect((await admin({ email: 'a@new.example' })).statusCode).toBe(200)
        expect((await me()).body).toMatchObject({ email: 'a@new.example', email_verified: false })
        await t.services.recovery.markVerified('alice', TEST_ACTOR)
        expect((await me()).body).toMatchObject({ email_verified: true })

        // Names, the user's own and an admin's.
        const own = await t.app.inject({
          method: 'PATCH',
          url: '/users/me/',
          headers: bearer(alice),
          payload: { full_name: 'Alice L' },
        })
        expect(own.statusCode).toBe(200)
        expect((await me()).body).toMatchObject({ full_name: 'Alice L' })
        expect((await admin({ full_name: 'Alice Liddell' })).statusCode).toBe(200)
        expect((await me()).body).toMatchObject({ full_name: 'Alice Liddell' })

        // Scopes taken and given back.
        await t.services.accounts.setScopes('alice', ['items'], TEST_ACTOR)
        expect((await me()).status).toBe(403)
        await t.services.accounts.setScopes('alice', null, TEST_ACTOR)
        expect((await me()).status).toBe(200)

        // The flag alone, as the FastAPI app writes it (no session ends).
        await t.store.setDisabled('alice', true)
        expect((await me()).status).toBe(400)
        await t.store.setDisabled('alice', false)
        expect((await me()).body).toMatchObject({ disabled: false })

        // MFA enrolment ends the user's other sessions; the admin's reset ends them all.
        const other = await t.login('alice', 'alice-passphrase')
        expect((await me(other)).status).toBe(200)
        const start = await t.app.inject({
          method: 'POST',
          url: '/users/me/mfa/totp',
          headers: bearer(alice),
        })
        expect(start.statusCode).toBe(200)
        const confirm = await t.app.inject({
          method: 'POST',
          url: '/users/me/mfa/totp/confirm',
          headers: bearer(alice),
          payload: { code: totpNow(start.json<{ secret: string }>().secret) },
        })
        expect(confirm.statusCode).toBe(200)
        expect((await me(other)).status).toBe(401)
        expect((await me()).status).toBe(200)
        const reset = await t.app.inject({
          method: 'POST',
          url: '/admin/users/alice/mfa/reset',
          headers: root,
        })
        expect(reset.statusCode).toBe(204)
        expect((await me()).status).toBe(401)

        // A password set by an admin, a disable through the API, a removal.
        alice = await t.login('alice', 'alice-passphrase')
        expect((await me()).status).toBe(200)
        await t.services.accounts.setPassword('alice', 'another-passphrase', TEST_ACTOR)
        expect((await me()).status).toBe(401)
        alice = await t.login('alice', 'another-passphrase')
        expect((await me()).status).toBe(200)
        expect((await admin({ disabled: true })).statusCode).toBe(200)
        expect((await me()).status).toBe(400)
        expect((await admin({ disabled: false })).statusCode).toBe(200)
        alice = await t.login('alice', 'another-passphrase')
        expect((await me()).status).toBe(200)
        await t.services.accounts.remove('alice', TEST_ACTOR)
        expect((await me()).status).toBe(401)
      })
    },
  )
}
