// Recent authentication for sensitive changes (issue 22 item 1): a bearer token alone (stolen from a
// log, XSS, or a service it was sent to) must not enrol the attacker's factor, remove the owner's, or
// move the address reset links go to. The current password, or a login within RECENT_AUTH_SECONDS,
// is needed; otherwise RFC 9470's 401 with `max_age`, in a body the login page can act on.
import { Secret, TOTP } from 'otpauth'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { build, tokenRequest, type TestApp } from '../helper.js'

const PASSWORD = 'alice-password'
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const code = (secret: string, offset = 0) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * 30_000 })

interface Tokens {
  access_token: string
  refresh_token: string
}

async function alice(env: Record<string, string> = {}) {
  const t = await build({ env })
  await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
  const tokens = (
    await t.app.inject(tokenRequest({ username: 'alice', password: PASSWORD }))
  ).json<Tokens>()
  return { t, tokens }
}

const startEnrolment = (t: TestApp, access: string, body?: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp',
    headers: bearer(access),
    ...(body ? { payload: body } : {}),
  })

const confirmEnrolment = (t: TestApp, access: string, body: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: '/users/me/mfa/totp/confirm',
    headers: bearer(access),
    payload: body,
  })

const changeEmail = (t: TestApp, access: string, body: Record<string, string>) =>
  t.app.inject({ method: 'PATCH', url: '/users/me/', headers: bearer(access), payload: body })

const removeFactor = (t: TestApp, access: string, body: Record<string, string>) =>
  t.app.inject({
    method: 'DELETE',
    url: '/users/me/mfa/totp',
    headers: bearer(access),
    payload: body,
  })

/** Moves the clock past RECENT_AUTH_SECONDS (300 by default) since the login. */
const later = (seconds = 301) =>
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + seconds * 1000 })

/** RFC 9470's answer, with what the login page needs to ask for the password. */
function expectStepUp(
  response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  maxAge = 300,
) {
  expect(response.statusCode).toBe(401)
  expect(response.headers['www-authenticate']).toMatch(
    new RegExp(
      `^Bearer error="insufficient_user_authentication", error_description="[^"]+", max_age=${maxAge}$`,
    ),
  )
  const body = response.json() as { error?: string; max_age?: number; detail?: string }
  expect(body).toMatchObject({ error: 'insufficient_user_authentication', max_age: maxAge })
  expect(body.detail).toContain('current_password')
}

afterEach(() => {
  vi.useRealTimers()
})

describe('recent authentication for sensitive changes', () => {
  it('lets a fresh login enrol without the password again', async () => {
    const { t, tokens } = await alice()
    const start = await startEnrolment(t, tokens.access_token)
    expect(start.statusCode).toBe(200)
    const { secret } = start.json<{ secret: string }>()
    const confirm = await confirmEnrolment(t, tokens.access_token, { code: code(secret) })
    expect(confirm.statusCode).toBe(200)
  })

  it('refuses a stale session (a stolen token) the enrolment without the password, with RFC 9470 max_age', async () => {
    const { t, tokens } = await alice()
    later()
    expectStepUp(await startEnrolment(t, tokens.access_token))
    expect((await t.services.mfa.status(1)).totp).toBe('none')
    // A wrong password is a wrong password (through the pipeline), not a step-up challenge.
    const wrong = await startEnrolment(t, tokens.access_token, { current_password: 'nope' })
    expect(wrong.statusCode).toBe(400)
    const start = await startEnrolment(t, tokens.access_token, { current_password: PASSWORD })
    expect(start.statusCode).toBe(200)
    const { secret } = start.json<{ secret: string }>()
    expectStepUp(await confirmEnrolment(t, tokens.access_token, { code: code(secret) }))
    const confirm = await confirmEnrolment(t, tokens.access_token, {
      code: code(secret),
      current_password: PASSWORD,
    })
    expect(confirm.statusCode).toBe(200)
    const outcomes = (await t.store.listAudit({ limit: 20 }))
      .filter((event) => event.type === 'mfa')
      .map((event) => event.outcome)
    expect(outcomes).toContain('enrol_not_recent')
    expect(outcomes).toContain('enrol_incorrect_password')
  })

  it('does not count a refresh as an authentication', async () => {
    const { t, tokens } = await alice()
    later()
    const refreshed = (
      await t.app.inject(
        tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      )
    ).json<Tokens>()
    expectStepUp(await startEnrolment(t, refreshed.access_token))
  })

  it('follows RECENT_AUTH_SECONDS, and 0 asks for the password always', async () => {
    const short = await alice({ RECENT_AUTH_SECONDS: '60' })
    later(61)
    expectStepUp(await startEnrolment(short.t, short.tokens.access_token), 60)
    vi.useRealTimers()
    const never = await alice({ RECENT_AUTH_SECONDS: '0' })
    expectStepUp(await startEnrolment(never.t, never.tokens.access_token), 0)
  })

  it('changes the e-mail address from a recent login or with the password, never from a stale token alone', async () => {
    const { t, tokens } = await alice()
    const recent = await changeEmail(t, tokens.access_token, { email: 'alice@new.example' })
    // 202 whether or not the address was free (no oracle); this one was, so it is set.
    expect(recent.statusCode).toBe(202)
    expect((await t.store.findUserByUsername('alice'))?.email).toBe('alice@new.example')
    later()
    expectStepUp(await changeEmail(t, tokens.access_token, { email: 'mallory@evil.example' }))
    expect((await t.store.findUserByUsername('alice'))?.email).toBe('alice@new.example')
    // What is not sensitive needs no step-up.
    const name = await changeEmail(t, tokens.access_token, { full_name: 'Alice A.' })
    expect(name.statusCode).toBe(200)
    const withPassword = await changeEmail(t, tokens.access_token, {
      email: 'alice@third.example',
      current_password: PASSWORD,
    })
    expect(withPassword.statusCode).toBe(202)
    expect((await t.store.findUserByUsername('alice'))?.email).toBe('alice@third.example')
  })

  it('removes a factor only with recent authentication and a current code', async () => {
    const { t, tokens } = await alice()
    const { secret } = (await startEnrolment(t, tokens.access_token)).json<{ secret: string }>()
    const { recovery_codes } = (
      await confirmEnrolment(t, tokens.access_token, { code: code(secret, -1) })
    ).json<{ recovery_codes: string[] }>()
    // The old shape (the password alone) no longer removes it.
    const passwordOnly = await removeFactor(t, tokens.access_token, { password: PASSWORD })
    expect(passwordOnly.statusCode).toBe(400)
    const wrongCode = await removeFactor(t, tokens.access_token, { code: '000000' })
    expect(wrongCode.statusCode).toBe(400)
    later()
    expectStepUp(await removeFactor(t, tokens.access_token, { code: recovery_codes[0]! }))
    expect((await t.services.mfa.status(1)).totp).toBe('confirmed')
    const removed = await removeFactor(t, tokens.access_token, {
      current_password: PASSWORD,
      code: recovery_codes[0]!,
    })
    expect(removed.statusCode).toBe(204)
    expect((await t.services.mfa.status(1)).totp).toBe('none')
  })
})
