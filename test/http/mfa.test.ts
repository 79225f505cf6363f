// Second factors end to end over HTTP, on SQLite and PostgreSQL: TOTP enrolment, Auth0's mfa_required
// answer and the mfa-otp / mfa-recovery-code grants, replay and drift, throttling, amr on refresh,
// requireScopes({ mfa: true }), removal and the admin reset. Codes are computed here from the secret.
import { Secret, TOTP } from 'otpauth'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'

const OTP_GRANT = 'http://auth0.com/oauth/grant-type/mfa-otp'
const RECOVERY_GRANT = 'http://auth0.com/oauth/grant-type/mfa-recovery-code'
const PASSWORD = 'alice-password'

interface Tokens {
  access_token: string
  refresh_token: string
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>

/** The code of `secret` at `offset` steps from now. */
function code(secret: string, offset = 0): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    timestamp: Date.now() + offset * 30_000,
  })
}

async function passwordLogin(t: TestApp, fields: Record<string, string> = {}) {
  return t.app.inject(tokenRequest({ username: 'alice', password: PASSWORD, ...fields }))
}

async function mfaToken(t: TestApp, fields: Record<string, string> = {}): Promise<string> {
  const response = await passwordLogin(t, fields)
  expect(response.statusCode).toBe(403)
  return response.json<{ mfa_token: string }>().mfa_token
}

const otpLogin = (t: TestApp, token: string, otp: string, fields: Record<string, string> = {}) =>
  t.app.inject(tokenRequest({ grant_type: OTP_GRANT, mfa_token: token, otp, ...fields }))

/** Alice, enrolled with TOTP (confirmed with the previous step's code, so the current one is unused). */
async function enrolled(t: TestApp): Promise<{ secret: string; recoveryCodes: string[] }> {
  await t.addUser({ username: 'alice', password: PASSWORD, scopes: ['me', 'items'] })
  const access = await t.login('alice', PASSWORD)
  const start = await t.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp',
    headers: bearer(access),
  })
  expect(start.statusCode).toBe(200)
  const { secret } = start.json<{ secret: string }>()
  const confirm = await t.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: bearer(access),
    payload: { code: code(secret, -1) },
  })
  expect(confirm.statusCode).toBe(200)
  return { secret, recoveryCodes: confirm.json<{ recovery_codes: string[] }>().recovery_codes }
}

function mfaSuite(name: string, open: () => Promise<TestApp>): void {
  describe(`MFA over HTTP on ${name}`, () => {
    afterEach(() => {
      vi.useRealTimers()
    })

    it('enrols: a secret with its otpauth URI and QR SVG, then 10 recovery codes for the first code; other sessions end', async () => {
      const t = await open()
      await t.addUser({ username: 'alice', password: PASSWORD })
      const other = await t.login('alice', PASSWORD)
      const access = await t.login('alice', PASSWORD)
      const status = () =>
        t.app.inject({ method: 'GET', url: '/users/me/mfa', headers: bearer(access) })
      expect((await status()).json()).toEqual({ totp: 'none', recovery_codes_left: 0 })

      const start = await t.app.inject({
        method: 'POST',
        url: '/users/me/mfa/totp',
        headers: bearer(access),
      })
      expect(start.headers['cache-control']).toBe('no-store')
      const enrolment = start.json<{ secret: string; otpauth_uri: string; qr_svg: string }>()
      expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/)
      expect(enrolment.otpauth_uri).toContain(`secret=${enrolment.secret}`)
      expect(enrolment.qr_svg).toMatch(/^<svg /)
      expect((await status()).json()).toMatchObject({ totp: 'pending' })

      const confirm = (value: string) =>
        t.app.inject({
          method: 'POST',
          url: '/users/me/mfa/totp/confirm',
          headers: bearer(access),
          payload: { code: value },
        })
      const wrong = await confirm(code(enrolment.secret, 5))
      expect(wrong.statusCode).toBe(400)
      expect(wrong.json()).not.toHaveProperty('error')
      const done = await confirm(code(enrolment.secret))
      expect(done.statusCode).toBe(200)
      const codes = done.json<{ recovery_codes: string[] }>().recovery_codes
      expect(codes).toHaveLength(10)
      expect(new Set(codes).size).toBe(10)
      expect((await status()).json()).toEqual({ totp: 'confirmed', recovery_codes_left: 10 })
      // Every other session ended; this one goes on.
      const gone = await t.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(other) })
      expect(gone.statusCode).toBe(401)
      expect((await status()).statusCode).toBe(200)
      // A second enrolment while one is active is refused.
      const again = await t.app.inject({
        method: 'POST',
        url: '/users/me/mfa/totp',
        headers: bearer(access),
      })
      expect(again.statusCode).toBe(400)
    })

    it("answers Auth0's mfa_required for the right password, the usual 401 for a wrong one", async () => {
      const t = await open()
      await enrolled(t)
      const right = await passwordLogin(t)
      expect(right.statusCode).toBe(403)
      expect(right.headers['cache-control']).toBe('no-store')
      const body = right.json<Record<string, string>>()
      expect(body).toMatchObject({
        error: 'mfa_required',
        error_description: 'Multifactor authentication required',
      })
      expect(body.mfa_token).toMatch(/^[\w-]{43}$/)
      expect(body).not.toHaveProperty('access_token')

      const wrong = await passwordLogin(t, { password: 'not-the-password' })
      await t.addUser({ username: 'bob', password: 'bob-password' })
      const other = await t.app.inject(
        tokenRequest({ username: 'bob', password: 'not-the-password' }),
      )
      expect(wrong.statusCode).toBe(401)
      expect(wrong.body).toBe(other.body)
      expect(wrong.headers['www-authenticate']).toBe(other.headers['www-authenticate'])
    })

    it('completes the login with the current code: tokens with amr pwd+otp; the code and the mfa_token are single use', async () => {
      const t = await open()
      const { secret } = await enrolled(t)
      const token = await mfaToken(t)
      const ok = await otpLogin(t, token, code(secret))
      expect(ok.statusCode).toBe(200)
      const tokens = ok.json<Tokens>()
      expect(claims(tokens.access_token).amr).toEqual(['pwd', 'otp'])
      expect(tokens.refresh_token).toBeTruthy()
      const me = await t.app.inject({
        method: 'GET',
        url: '/users/me/',
        headers: bearer(tokens.access_token),
      })
      expect(me.json()).toMatchObject({ username: 'alice' })

      // The same mfa_token again, even with a fresh code: spent.
      const spent = await otpLogin(t, token, code(secret, 1))
      expect(spent.statusCode).toBe(400)
      expect(spent.json()).toMatchObject({ error: 'invalid_grant' })
      // The same code with a new mfa_token: a replay.
      const replay = await otpLogin(t, await mfaToken(t), code(secret))
      expect(replay.statusCode).toBe(400)
      expect(replay.json()).toMatchObject({ error: 'invalid_grant' })
    })

    it('accepts one step of clock drift either side, never two', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      // The middle of a step: nothing moves to the next one while the test runs.
      vi.setSystemTime(Math.floor(Date.now() / 30_000) * 30_000 + 15_000)
      const t = await open()
      const { secret } = await enrolled(t)
      expect((await otpLogin(t, await mfaToken(t), code(secret, -2))).statusCode).toBe(400)
      expect((await otpLogin(t, await mfaToken(t), code(secret, 2))).statusCode).toBe(400)
      expect((await otpLogin(t, await mfaToken(t), code(secret, 0))).statusCode).toBe(200)
      expect((await otpLogin(t, await mfaToken(t), code(secret, 1))).statusCode).toBe(200)
      // Earlier than a step already accepted: refused, even inside the window.
      expect((await otpLogin(t, await mfaToken(t), code(secret, 0))).statusCode).toBe(400)
    })

    it('logs in with a recovery code once, however it is typed', async () => {
      const t = await open()
      const { recoveryCodes } = await enrolled(t)
      const recovery = (token: string, value: string) =>
        t.app.inject(
          tokenRequest({ grant_type: RECOVERY_GRANT, mfa_token: token, recovery_code: value }),
        )
      const first = recoveryCodes[0]!
      const ok = await recovery(await mfaToken(t), ` ${first.toUpperCase()} `)
      expect(ok.statusCode).toBe(200)
      expect(claims(ok.json<Tokens>().access_token).amr).toEqual(['pwd', 'otp'])
      const again = await recovery(await mfaToken(t), first)
      expect(again.statusCode).toBe(400)
      expect(again.json()).toMatchObject({ error: 'invalid_grant' })
      const status = await t.app.inject({
        method: 'GET',
        url: '/users/me/mfa',
        headers: bearer(ok.json<Tokens>().access_token),
      })
      expect(status.json()).toMatchObject({ recovery_codes_left: 9 })
    })

    it('keeps the amr of the login across refreshes', async () => {
      const t = await open()
      const { secret } = await enrolled(t)
      const tokens = (await otpLogin(t, await mfaToken(t), code(secret))).json<Tokens>()
      const refreshed = await t.app.inject(
        tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      )
      expect(refreshed.statusCode).toBe(200)
      expect(claims(refreshed.json<Tokens>().access_token).amr).toEqual(['pwd', 'otp'])

      await t.addUser({ username: 'bob', password: 'bob-password' })
      const plain = await t.app.inject(tokenRequest({ username: 'bob', password: 'bob-password' }))
      const plainRefreshed = await t.app.inject(
        tokenRequest({
          grant_type: 'refresh_token',
          refresh_token: plain.json<Tokens>().refresh_token,
        }),
      )
      expect(claims(plainRefreshed.json<Tokens>().access_token).amr).toEqual(['pwd'])
    })

    it('throttles wrong codes per mfa_token', async () => {
      const t = await open()
      const { secret } = await enrolled(t)
      const token = await mfaToken(t)
      const wrong = String((Number(code(secret)) + 500_000) % 1_000_000).padStart(6, '0')
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) statuses.push((await otpLogin(t, token, wrong)).statusCode)
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429])
      // Throttled even with the right code now.
      const refused = await otpLogin(t, token, code(secret))
      expect(refused.statusCode).toBe(429)
      expect(refused.headers['retry-after']).toBeDefined()
    })

    it('counts enrolment codes apart, and only while an enrolment waits: they never block MFA logins', async () => {
      const t = await open()
      await t.addUser({ username: 'alice', password: PASSWORD, scopes: ['me', 'items'] })
      await t.addUser({ username: 'bob', password: PASSWORD, scopes: ['me'] })
      const confirm = (access: Record<string, string>, otp: string) =>
        t.app.inject({
          method: 'POST',
          url: '/users/me/mfa/totp/confirm',
          headers: access,
          payload: { code: otp },
        })
      const start = async (access: Record<string, string>) =>
        (await t.app.inject({ method: 'POST', url: '/users/me/mfa/totp', headers: access })).json<{
          secret: string
        }>().secret

      // Alice enrolled: with nothing waiting, confirm codes are refused without counting...
      const alice = bearer(await t.login('alice', PASSWORD))
      const secret = await start(alice)
      expect((await confirm(alice, code(secret, -1))).statusCode).toBe(200)
      for (let i = 0; i < 12; i++) expect((await confirm(alice, '000000')).statusCode).toBe(404)
      // ...so her own logins' second step is untouched.
      expect((await otpLogin(t, await mfaToken(t), code(secret))).statusCode).toBe(200)

      // Bob's pending enrolment has a counter of its own.
      const bob = bearer(await t.login('bob', PASSWORD))
      const pending = await start(bob)
      const wrong = String((Number(code(pending)) + 500_000) % 1_000_000).padStart(6, '0')
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) statuses.push((await confirm(bob, wrong)).statusCode)
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429])
    })

    it('throttles wrong codes per user across mfa_tokens', async () => {
      const t = await open()
      const { secret } = await enrolled(t)
      const wrong = String((Number(code(secret)) + 500_000) % 1_000_000).padStart(6, '0')
      const statuses: number[] = []
      for (const attempts of [4, 4, 3]) {
        const token = await mfaToken(t)
        for (let i = 0; i < attempts; i++)
          statuses.push((await otpLogin(t, token, wrong)).statusCode)
      }
      // Ten wrong codes for the user, whichever mfa_token carried them; the eleventh is refused.
      expect(statuses).toEqual([...Array<number>(10).fill(400), 429])
    })

    it('binds the mfa_token to its client and to the password it proved', async () => {
      const t = await open()
      const { secret } = await enrolled(t)
      const token = await mfaToken(t, { client_id: 'app-1' })
      expect((await otpLogin(t, token, code(secret))).statusCode).toBe(400)
      expect((await otpLogin(t, token, code(secret), { client_id: 'app-2' })).statusCode).toBe(400)

      const changed = await mfaToken(t)
      await t.services.accounts.setPassword('alice', 'a-new-password', {
        name: 'cli:test',
        ip: null,
        userAgent: null,
      })
      const dead = await otpLogin(t, changed, code(secret))
      expect(dead.statusCode).toBe(400)
      expect(dead.json()).toMatchObject({ error: 'invalid_grant' })
      expect((await otpLogin(t, 'x'.repeat(300), code(secret))).statusCode).toBe(400)
    })

    it('requireScopes({ mfa: true }) answers RFC 9470 insufficient_user_authentication without a second factor', async () => {
      const t = await open()
      t.app.get('/vault', { onRequest: t.app.requireScopes({ mfa: true }, 'me') }, async () => ({
        ok: true,
      }))
      const { secret } = await enrolled(t)
      await t.addUser({ username: 'bob', password: 'bob-password', scopes: ['me'] })
      const plain = await t.app.inject({
        method: 'GET',
        url: '/vault',
        headers: bearer(await t.login('bob', 'bob-password')),
      })
      expect(plain.statusCode).toBe(401)
      expect(plain.headers['www-authenticate']).toMatch(
        /^Bearer error="insufficient_user_authentication"/,
      )
      expect(plain.json()).toMatchObject({ error: 'insufficient_user_authentication' })
      const strong = (await otpLogin(t, await mfaToken(t), code(secret))).json<Tokens>()
      const ok = await t.app.inject({
        method: 'GET',
        url: '/vault',
        headers: bearer(strong.access_token),
      })
      expect(ok.json()).toEqual({ ok: true })
    })

    it('removes the factor with the password and a code, after which the password alone logs in again', async () => {
      const t = await open()
      const { secret, recoveryCodes } = await enrolled(t)
      const access = (await otpLogin(t, await mfaToken(t), code(secret))).json<Tokens>()
        .access_token
      const remove = (password: string, factorCode: string) =>
        t.app.inject({
          method: 'DELETE',
          url: '/users/me/mfa/totp',
          headers: bearer(access),
          payload: { current_password: password, code: factorCode },
        })
      expect((await remove('wrong-password', recoveryCodes[0]!)).statusCode).toBe(400)
      expect((await remove(PASSWORD, '000000')).statusCode).toBe(400)
      expect((await remove(PASSWORD, recoveryCodes[0]!)).statusCode).toBe(204)
      expect((await remove(PASSWORD, recoveryCodes[1]!)).statusCode).toBe(404)
      expect((await passwordLogin(t)).statusCode).toBe(200)
    })

    it("lets an admin see and reset a user's factor, audited with the admin as actor", async () => {
      const t = await open()
      await enrolled(t)
      await t.addUser({ username: 'root', password: 'root-password', scopes: ['me', 'admin'] })
      const admin = bearer(await t.login('root', 'root-password'))
      const status = await t.app.inject({
        method: 'GET',
        url: '/admin/users/alice/mfa',
        headers: admin,
      })
      expect(status.json()).toEqual({ totp: 'confirmed', recovery_codes_left: 10 })
      const reset = await t.app.inject({
        method: 'POST',
        url: '/admin/users/alice/mfa/reset',
        headers: admin,
      })
      expect(reset.statusCode).toBe(204)
      expect((await passwordLogin(t)).statusCode).toBe(200)
      const unknown = await t.app.inject({
        method: 'POST',
        url: '/admin/users/nobody/mfa/reset',
        headers: admin,
      })
      expect(unknown.statusCode).toBe(404)
      const events = await t.store.listAudit({ limit: 50 })
      expect(events).toContainEqual(
        expect.objectContaining({
          type: 'mfa',
          outcome: 'reset',
          username: 'alice',
          actor: 'root',
        }),
      )
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'mfa', outcome: 'enrolled', actor: 'alice' }),
      )
    })
  })
}

mfaSuite('SQLite', () => build())
if (!skipPostgres)
  mfaSuite('PostgreSQL', async () => build({ databaseUrl: (await freshSchema()).url }))

describe('MFA with a registered client', () => {
  it('binds the mfa_token to the client that authenticated, and the session it opens names it', async () => {
    const t = await build()
    const { secret } = await enrolled(t)
    const { client, secret: clientSecret } = await t.services.clients.add(
      { name: 'mobile', confidential: true, grants: ['password', 'refresh_token'] },
      TEST_ACTOR,
    )
    // With REQUIRE_CLIENT, a client allowed the password grant completes its second step too.
    const strict = await build({ dir: t.dir, env: { REQUIRE_CLIENT: 'true' } })
    const basic = `Basic ${Buffer.from(`${client.client_id}:${clientSecret}`).toString('base64')}`
    const asClient = (fields: Record<string, string>) =>
      strict.app.inject({
        ...tokenRequest(fields),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      })
    const step = await asClient({ username: 'alice', password: PASSWORD })
    expect(step.statusCode).toBe(403)
    const token = step.json<{ mfa_token: string }>().mfa_token
    // Without the client, the mfa_token is dead.
    expect((await otpLogin(t, token, code(secret))).statusCode).toBe(400)
    const done = await asClient({ grant_type: OTP_GRANT, mfa_token: token, otp: code(secret) })
    expect(done.statusCode).toBe(200)
    expect(claims(done.json<Tokens>().access_token)).toMatchObject({
      client_id: client.client_id,
      amr: ['pwd', 'otp'],
    })
  })
})

describe('MFA when the throttling counters are unreachable', () => {
  it('follows REDIS_FAILURE_MODE=open like logins: enrolment and the second step go through', async () => {
    const t = await build({ env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_FAILURE_MODE: 'open' } })
    const { secret } = await enrolled(t)
    const done = await otpLogin(t, await mfaToken(t), code(secret))
    expect(done.statusCode).toBe(200)
    expect(claims(done.json<Tokens>().access_token)).toMatchObject({ amr: ['pwd', 'otp'] })
  })
})
