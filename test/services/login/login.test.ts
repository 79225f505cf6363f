// The password login use-case as a service, on a temporary SQLite store: each outcome (a session, a
// wrong password, an unknown user, a disabled account, a second factor to give, an address to verify
// first, throttled) and how it is recorded in the audit log.
import { Secret, TOTP } from 'otpauth'
import { describe, expect, it } from 'vitest'
import {
  InactiveUser,
  InvalidCredentials,
  MfaRequired,
  Throttled,
  UnverifiedEmail,
} from '../../../src/errors.js'
import { build, TEST_ACTOR, type BuildOptions, type TestApp } from '../../helper.js'
import { startSmtpServer } from '../../support/smtp.js'

const FROM = { ip: '203.0.113.7', userAgent: 'login-test' }
const PASSWORD = 'correct horse battery'

const login = (t: TestApp, username: string, password: string) =>
  t.services.login({ username, password, scope: undefined }, FROM)

/** The error a login fails with. */
const failure = (t: TestApp, username: string, password: string): Promise<unknown> =>
  login(t, username, password).then(
    () => {
      throw new Error('the login succeeded')
    },
    (error: unknown) => error,
  )

const loginAudit = async (t: TestApp) =>
  (await t.store.listAudit({ limit: 100 }))
    .reverse()
    .filter((event) => event.type === 'login')
    .map((event) => [event.outcome, event.username, event.actor])

async function withAlice(options: BuildOptions = {}) {
  const t = await build(options)
  await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
  return t
}

describe('password login', () => {
  it('opens a session for the right password, recorded with the user as actor', async () => {
    const t = await withAlice()
    const response = await login(t, 'alice', PASSWORD)
    expect(response).toMatchObject({ token_type: 'bearer', expires_in: 1_800 })
    expect(response.refresh_token).toBeDefined()
    const principal = await t.services.currentUser(response.access_token)
    expect(principal).toMatchObject({ user: { username: 'alice' }, amr: ['pwd'] })
    expect(await loginAudit(t)).toEqual([['success', 'alice', 'alice']])
    // The audit row says where the login came from.
    expect((await t.store.listAudit({ limit: 1 }))[0]).toMatchObject(FROM)
  })

  it('fails a wrong password and an unknown user alike, recorded without an actor', async () => {
    const t = await withAlice()
    const wrong = await failure(t, 'alice', 'a wrong password')
    const unknown = await failure(t, 'nobody', PASSWORD)
    expect(wrong).toBeInstanceOf(InvalidCredentials)
    expect(unknown).toBeInstanceOf(InvalidCredentials)
    expect((unknown as Error).message).toBe((wrong as Error).message)
    expect(await loginAudit(t)).toEqual([
      ['bad_credentials', 'alice', null],
      ['bad_credentials', 'nobody', null],
    ])
    // The password typed is never recorded, right or wrong.
    expect(JSON.stringify(await t.store.listAudit({ limit: 100 }))).not.toContain(
      'a wrong password',
    )
  })

  it('tells a disabled account apart only after its password was proven', async () => {
    const t = await withAlice()
    await t.services.accounts.setDisabled('alice', true, TEST_ACTOR)
    expect(await failure(t, 'alice', 'a wrong password')).toBeInstanceOf(InvalidCredentials)
    expect(await failure(t, 'alice', PASSWORD)).toBeInstanceOf(InactiveUser)
    expect(await loginAudit(t)).toEqual([
      ['bad_credentials', 'alice', null],
      ['inactive', 'alice', null],
    ])
  })

  it('asks a user with a second factor for it after the password, opening no session yet', async () => {
    const t = await withAlice()
    const alice = (await t.store.findUserByUsername('alice'))!
    const holder = { userId: alice.id, name: 'alice', ...FROM }
    const first = await login(t, 'alice', PASSWORD)
    const { sessionId } = await t.services.currentUser(first.access_token)
    const { secret } = await t.services.mfa.startTotp(holder, { sessionId })
    const code = TOTP.generate({ secret: Secret.fromBase32(secret) })
    await t.services.mfa.confirmTotp(holder, { sessionId }, code)

    expect(await failure(t, 'alice', 'a wrong password')).toBeInstanceOf(InvalidCredentials)
    const required = await failure(t, 'alice', PASSWORD)
    expect(required).toBeInstanceOf(MfaRequired)
    expect((required as MfaRequired).mfaToken).toMatch(/^[\w-]{43}$/)
    expect(await t.services.sessions.list(alice.id, sessionId)).toHaveLength(1)
    expect((await loginAudit(t)).slice(-2)).toEqual([
      ['bad_credentials', 'alice', null],
      ['mfa_required', 'alice', null],
    ])
  })

  it('refuses an address still to verify under REQUIRE_VERIFIED_EMAIL, after the password, and sends a new link', async () => {
    const smtp = await startSmtpServer()
    const t = await withAlice({ env: { SMTP_URL: smtp.url, REQUIRE_VERIFIED_EMAIL: 'true' } })
    expect(await failure(t, 'alice', 'a wrong password')).toBeInstanceOf(InvalidCredentials)
    expect(await failure(t, 'alice', PASSWORD)).toBeInstanceOf(UnverifiedEmail)
    // The registration's link and the one the refused login sent; none for the wrong password.
    await t.services.mailer.runOnce()
    expect(smtp.messages.map((mail) => mail.subject)).toEqual([
      'Confirm your e-mail address',
      'Confirm your e-mail address',
    ])
    await t.services.recovery.markVerified('alice', TEST_ACTOR)
    await expect(login(t, 'alice', PASSWORD)).resolves.toMatchObject({ token_type: 'bearer' })
    expect(await loginAudit(t)).toEqual([
      ['bad_credentials', 'alice', null],
      ['unverified_email', 'alice', null],
      ['success', 'alice', 'alice'],
    ])
  })

  it('refuses even the right password once the throttle has, and records it', async () => {
    const t = await withAlice()
    for (let i = 0; i < 5; i++)
      expect(await failure(t, 'alice', 'a wrong password')).toBeInstanceOf(InvalidCredentials)
    const refused = await failure(t, 'alice', PASSWORD)
    expect(refused).toBeInstanceOf(Throttled)
    expect((refused as Throttled).retryAfterSeconds).toBe(60)
    expect((await loginAudit(t)).at(-1)).toEqual(['throttled', 'alice', null])
  })
})
