import { performance } from 'node:perf_hooks'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import type { ParsedMail } from 'mailparser'
import { build, captureLogs, TEST_ACTOR, type BuildOptions, type TestApp } from '../helper.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js'

const INVALID_RESET = { detail: 'This reset link is invalid or has expired' }
const ACCEPTED = {
  detail: 'If an account with that address or username exists, a reset link is on its way to it',
}

function tokenOf(mail: ParsedMail, path: string): string {
  const match = new RegExp(`${path}\\?token=([A-Za-z0-9_-]{43})`).exec(mail.text ?? '')
  if (!match) throw new Error(`no ${path} link in: ${mail.text}`)
  return match[1]!
}

/**
 * Resolves once every mail the app's requests so far caused has been sent: the reset requests still
 * being handled after their answer have queued theirs, the background sender has finished its run, and
 * one last run has sent whatever it had not reached. The test SMTP server keeps a message before it
 * answers, so its `messages` are then complete. Stops the app's sender.
 */
async function allMailSent(t: Pick<TestApp, 'services'>): Promise<void> {
  await t.services.recovery.close()
  await t.services.mailer.stop()
  await t.services.mailer.runOnce()
}

const drivers: [string, () => Promise<BuildOptions>][] = [['SQLite', async () => ({})]]
if (!skipPostgres)
  drivers.push(['PostgreSQL', async () => ({ databaseUrl: (await freshSchema()).url })])

describe.each(drivers)('account recovery by e-mail (%s)', (_name, database) => {
  async function setUp(env: Record<string, string> = {}, smtp?: TestSmtpServer) {
    const server = smtp ?? (await startSmtpServer())
    const logs = captureLogs()
    const t = await build({
      ...(await database()),
      logs: logs.stream,
      env: { SMTP_URL: server.url, ISSUER: 'http://gh.test', ...env },
    })
    await t.app.ready() // starts the outbox sender, as a listening server has it
    const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload })
    return { ...t, smtp: server, logs, post }
  }

  it('resets a forgotten password through the link: one use, every session ended, old password refused', async () => {
    const t = await setUp()
    await t.addUser({
      username: 'alice',
      email: 'alice@example.com',
      password: 'old horse battery',
    })
    const verifyMail = await t.smtp.nth(1)
    expect(verifyMail.subject).toBe('Confirm your e-mail address')
    const oldToken = await t.login('alice', 'old horse battery')

    const asked = await t.post('/password-reset', { email: 'ALICE@example.com' })
    expect(asked.statusCode).toBe(202)
    expect(asked.json()).toEqual(ACCEPTED)
    const mail = await t.smtp.nth(2)
    expect(mail.subject).toBe('Reset your password')
    expect(mail.text).toContain('within 30 minutes')
    const token = tokenOf(mail, 'http://gh.test/reset-password')

    const weak = await t.post('/password-reset/confirm', { token, new_password: 'alice' })
    expect(weak.statusCode).toBe(400)
    const done = await t.post('/password-reset/confirm', {
      token,
      new_password: 'new horse battery',
    })
    expect(done.statusCode).toBe(204)
    const again = await t.post('/password-reset/confirm', {
      token,
      new_password: 'other horse battery',
    })
    expect(again.statusCode).toBe(400)
    expect(again.json()).toEqual(INVALID_RESET)

    await expect(t.login('alice', 'old horse battery')).rejects.toThrow(/401/)
    await t.login('alice', 'new horse battery')
    const me = await t.app.inject({
      url: '/users/me/',
      headers: { authorization: `Bearer ${oldToken}` },
    })
    expect(me.statusCode).toBe(401)

    // The token is nowhere but in the mail (the page's address is logged without its query).
    await t.app.inject({ url: `/reset-password?token=${token}` })
    expect(t.logs.text()).toContain('"path":"/reset-password"')
    expect(t.logs.text()).not.toContain(token)
    const audit = JSON.stringify(await t.store.listAudit({ limit: 100 }))
    expect(audit).not.toContain(token)
    expect(audit).toContain('"type":"password_reset","outcome":"success"')
  })

  it('answers every reset request alike, sending only to an active user with an address', async () => {
    const t = await setUp()
    await t.addUser({ username: 'alice', email: 'alice@example.com' })
    await t.addUser({ username: 'bob' })
    await t.addUser({ username: 'carol', email: 'carol@example.com', disabled: true })
    await t.smtp.nth(2)
    const times: number[] = []
    for (const body of [
      { email: 'nobody@example.com' },
      { username: 'bob' },
      { username: 'carol' },
      { email: 'carol@example.com' },
      { username: 'nobody' },
      { username: 'alice' },
    ]) {
      const started = performance.now()
      const response = await t.post('/password-reset', body)
      times.push(performance.now() - started)
      expect(response.statusCode).toBe(202)
      expect(response.json()).toEqual(ACCEPTED)
    }
    for (const ms of times) expect(ms).toBeGreaterThanOrEqual(249)
    await allMailSent(t)
    expect(t.smtp.messages).toHaveLength(3)
    expect(t.smtp.messages[2]!.to).toMatchObject({ text: 'alice@example.com' })

    const both = await t.post('/password-reset', { email: 'a@example.com', username: 'alice' })
    expect(both.statusCode).toBe(400)
  })

  it('throttles reset requests per account, whether or not it exists', async () => {
    const t = await setUp()
    const statuses: number[] = []
    for (let i = 0; i < 6; i++)
      statuses.push((await t.post('/password-reset', { email: 'nobody@example.com' })).statusCode)
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429])
    const refused = await t.post('/password-reset', { email: 'nobody@example.com' })
    expect(refused.json()).toMatchObject({ detail: 'Too many requests; try again later' })
    expect((await t.post('/password-reset', { email: 'other@example.com' })).statusCode).toBe(202)
    // Another client address still gets the account's links (the login throttle's per-address rule).
    const elsewhere = await t.app.inject({
      method: 'POST',
      url: '/password-reset',
      payload: { email: 'nobody@example.com' },
      remoteAddress: '198.51.100.23',
    })
    expect(elsewhere.statusCode).toBe(202)
  })

  it('voids a reset link when the password changes another way, or when it expires', async () => {
    const t = await setUp()
    await t.addUser({ username: 'alice', email: 'alice@example.com' })
    await t.post('/password-reset', { username: 'alice' })
    const first = tokenOf(await t.smtp.nth(2), '/reset-password')
    await t.services.accounts.setPassword('alice', 'admin horse battery', TEST_ACTOR)
    const voided = await t.post('/password-reset/confirm', {
      token: first,
      new_password: 'x horse battery',
    })
    expect(voided.json()).toEqual(INVALID_RESET)

    await t.post('/password-reset', { username: 'alice' })
    const second = tokenOf(await t.smtp.nth(3), '/reset-password')
    const now = Date.now()
    vi.spyOn(Date, 'now').mockReturnValue(now + 31 * 60_000)
    const expired = await t.post('/password-reset/confirm', {
      token: second,
      new_password: 'x horse battery',
    })
    vi.restoreAllMocks()
    expect(expired.statusCode).toBe(400)
    expect(expired.json()).toEqual(INVALID_RESET)
    const junk = await t.post('/password-reset/confirm', {
      token: 'nope',
      new_password: 'x horse battery',
    })
    expect(junk.json()).toEqual(INVALID_RESET)
  })

  it('verifies the address of a registration, and again after an address change', async () => {
    const t = await setUp({ REGISTRATION: 'open', REQUIRE_VERIFIED_EMAIL: 'true' })
    const registered = await t.post('/users', {
      username: 'dave',
      password: 'dave horse battery',
      email: 'dave@example.com',
    })
    expect(registered.json()).toMatchObject({ email_verified: false })
    const refused = await t.app.inject({
      method: 'POST',
      url: '/token',
      payload: 'username=dave&password=dave+horse+battery',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(refused.statusCode).toBe(400)
    expect(refused.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/not verified/) as unknown,
    })
    // No reset link to an unverified address while verification is required.
    await t.post('/password-reset', { username: 'dave' })

    // The refused login, which proved the password, sent a fresh link and voided the first.
    const first = tokenOf(await t.smtp.nth(1), 'http://gh.test/verify-email')
    const token = tokenOf(await t.smtp.nth(2), 'http://gh.test/verify-email')
    expect((await t.post('/verify-email', { token: first })).statusCode).toBe(400)
    expect((await t.post('/verify-email', { token })).statusCode).toBe(204)
    expect((await t.post('/verify-email', { token })).json()).toEqual({
      detail: 'This verification link is invalid or has expired',
    })
    const access = await t.login('dave', 'dave horse battery')
    const me = await t.app.inject({
      url: '/users/me/',
      headers: { authorization: `Bearer ${access}` },
    })
    expect(me.json()).toEqual({
      username: 'dave',
      email: 'dave@example.com',
      full_name: null,
      disabled: false,
      email_verified: true,
    })
    expect(t.smtp.messages).toHaveLength(2)

    await t.services.accounts.update('dave', { email: 'dave@new.example' }, TEST_ACTOR)
    expect(await t.services.accounts.get('dave')).toMatchObject({ email_verified: false })
    const next = await t.smtp.nth(3)
    expect(next.to).toMatchObject({ text: 'dave@new.example' })
    expect(
      (await t.post('/verify-email', { token: tokenOf(next, '/verify-email') })).statusCode,
    ).toBe(204)
    expect(await t.services.accounts.get('dave')).toMatchObject({ email_verified: true })
  })

  it('lets users change their own address with their password, and ask for a new link', async () => {
    const t = await setUp()
    await t.addUser({
      username: 'alice',
      email: 'alice@example.com',
      password: 'old horse battery',
    })
    await t.addUser({ username: 'bob', email: 'bob@example.com' })
    await t.smtp.nth(2)
    const headers = { authorization: `Bearer ${await t.login('alice', 'old horse battery')}` }
    const patch = (payload: object) =>
      t.app.inject({ method: 'PATCH', url: '/users/me/', headers, payload })
    const resend = () =>
      t.app.inject({ method: 'POST', url: '/users/me/email/verification', headers })

    // A name needs no password; an address does (reset links go there) once the login is not
    // recent (RECENT_AUTH_SECONDS, 300 by default), and the right one.
    expect((await patch({ full_name: 'Alice Liddell' })).json()).toMatchObject({
      full_name: 'Alice Liddell',
      email: 'alice@example.com',
    })
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 301_000 })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    const bare = await patch({ email: 'alice@new.example' })
    expect(bare.statusCode).toBe(401)
    expect(bare.json()).toMatchObject({ error: 'insufficient_user_authentication', max_age: 300 })
    const wrong = await patch({ email: 'alice@new.example', current_password: 'wrong' })
    expect(wrong.json()).toEqual({ detail: 'Incorrect password' })
    // A reset link asked for before the change dies with it.
    await t.post('/password-reset', { username: 'alice' })
    const reset = tokenOf(await t.smtp.nth(3), '/reset-password')
    // A taken address (in any case) and a free one get the same answer; only the mail tells.
    const taken = await patch({ email: 'BOB@example.com', current_password: 'old horse battery' })
    expect(taken.statusCode).toBe(202)
    const notice = await t.smtp.nth(4)
    expect(notice.to).toMatchObject({ text: 'bob@example.com' })
    expect(notice.subject).toBe('Someone tried to use your e-mail address')
    expect(notice.text).toContain('nothing was changed')
    expect((await t.services.accounts.get('alice')).email).toBe('alice@example.com')
    // Only the profile: other fields are not the user's to set.
    expect((await patch({ full_name: 'x', disabled: true })).json()).toMatchObject({
      disabled: false,
    })
    const changed = await patch({
      email: 'alice@new.example',
      current_password: 'old horse battery',
    })
    expect(changed.statusCode).toBe(taken.statusCode)
    expect(changed.json()).toEqual(taken.json())
    expect(await t.services.accounts.get('alice')).toMatchObject({
      email: 'alice@new.example',
      email_verified: false,
    })
    const told = await t.smtp.nth(5)
    expect(told.to).toMatchObject({ text: 'alice@example.com' })
    expect(told.subject).toBe('Your e-mail address was changed')
    const first = await t.smtp.nth(6)
    expect(first.to).toMatchObject({ text: 'alice@new.example' })
    expect(
      (await t.post('/password-reset/confirm', { token: reset, new_password: 'x horse battery' }))
        .statusCode,
    ).toBe(400)

    // A new link voids the one before.
    expect((await resend()).statusCode).toBe(202)
    const second = await t.smtp.nth(7)
    expect(second.to).toMatchObject({ text: 'alice@new.example' })
    const stale = await t.post('/verify-email', { token: tokenOf(first, '/verify-email') })
    expect(stale.statusCode).toBe(400)
    const token = tokenOf(second, '/verify-email')
    expect((await t.post('/verify-email', { token })).statusCode).toBe(204)
    const again = await resend()
    expect(again.statusCode).toBe(400)
    expect(again.json()).toEqual({ detail: 'Your e-mail address is verified already' })
    expect(t.smtp.messages).toHaveLength(7)

    const audit = await t.store.listAudit({ limit: 50 })
    expect(
      audit
        .filter((e) => e.type === 'profile_change' || e.outcome === 'link_sent')
        .map((e) => [e.outcome, e.detail])
        .reverse(),
    ).toEqual([
      ['success', null],
      // A stale login without the password: refused, and recorded.
      ['not_recent', null],
      ['incorrect_password', null],
      ['email_taken', 'address of another user: unchanged'],
      ['success', null],
      ['success', 'email changed'],
      ['link_sent', null],
    ])
  })

  it('throttles changes to one’s own account, successful or not, per user', async () => {
    const t = await setUp()
    await t.addUser({ username: 'alice', email: 'alice@example.com' })
    const headers = { authorization: `Bearer ${await t.login('alice', 'correct horse battery')}` }
    const statuses: number[] = []
    for (let i = 0; i < 11; i++)
      statuses.push(
        (
          await t.app.inject({
            method: 'PATCH',
            url: '/users/me/',
            headers,
            payload: i % 2 ? { full_name: `Alice ${i}` } : { email: `a${i}@x.example` },
          })
        ).statusCode,
      )
    // A recent login may change the address without current_password: 202, alike for any address.
    expect(statuses).toEqual([202, 200, 202, 200, 202, 200, 202, 200, 202, 200, 429])
    const refused = await t.app.inject({
      method: 'PATCH',
      url: '/users/me/',
      headers,
      payload: { full_name: 'Alice' },
    })
    expect(refused.json()).toMatchObject({ detail: 'Too many requests; try again later' })
    expect((await t.services.accounts.get('alice')).full_name).toBe('Alice 9')
  })

  it('throttles requests for new verification links', async () => {
    const t = await setUp()
    await t.addUser({ username: 'alice', email: 'alice@example.com' })
    const headers = { authorization: `Bearer ${await t.login('alice', 'correct horse battery')}` }
    const statuses: number[] = []
    for (let i = 0; i < 8; i++)
      statuses.push(
        (await t.app.inject({ method: 'POST', url: '/users/me/email/verification', headers }))
          .statusCode,
      )
    expect(statuses).toContain(429)
    expect(statuses.indexOf(429)).toBeGreaterThan(0)
  })

  it('counts users Gatehouse never asked to verify as verified, and lets an operator verify one', async () => {
    const t = await setUp({ REQUIRE_VERIFIED_EMAIL: 'true' })
    await t.store.createUser({ username: 'legacy', email: 'l@example.com', hashedPassword: 'x' })
    expect(await t.services.accounts.get('legacy')).toMatchObject({ email_verified: true })
    await t.addUser({ username: 'erin', email: 'erin@example.com' })
    expect(await t.services.accounts.get('erin')).toMatchObject({ email_verified: false })
    await t.services.recovery.markVerified('erin', TEST_ACTOR)
    expect(await t.services.accounts.get('erin')).toMatchObject({ email_verified: true })
    await t.login('erin', 'correct horse battery')
  })
})

describe.skipIf(skipPostgres)('mail on PostgreSQL instances sharing a database', () => {
  it('sends each mail once when two instances share the outbox', async () => {
    const { url } = await freshSchema()
    const smtp = await startSmtpServer()
    const env = { SMTP_URL: smtp.url }
    const [a, b] = [await build({ databaseUrl: url, env }), await build({ databaseUrl: url, env })]
    await Promise.all([a.app.ready(), b.app.ready()])
    await a.addUser({ username: 'alice', email: 'alice@example.com' })
    await b.addUser({ username: 'bob', email: 'bob@example.com' })
    const asks = ['alice', 'bob', 'alice', 'bob'].map((username, i) =>
      (i % 2 ? a : b).app.inject({ method: 'POST', url: '/password-reset', payload: { username } }),
    )
    await Promise.all(asks)
    await Promise.all([allMailSent(a), allMailSent(b)])
    expect(smtp.messages).toHaveLength(6)
  })
})

describe('the recovery endpoints in OpenAPI', () => {
  it('lists them while mail is on', async () => {
    const t = await build()
    const doc = (await t.app.inject({ url: '/openapi.json' })).json<{
      paths: Record<string, { post?: { tags?: string[] } }>
    }>()
    for (const path of ['/password-reset', '/password-reset/confirm', '/verify-email'])
      expect(doc.paths[path]?.post?.tags, path).toEqual(['recovery'])
  })
})

describe('mail disabled in production without SMTP_URL', () => {
  it('does not serve the recovery endpoints', async () => {
    const t = await build({ env: { NODE_ENV: 'production', SECRET_KEY: 'p'.repeat(64) } })
    const response = await t.app.inject({
      method: 'POST',
      url: '/password-reset',
      payload: { username: 'alice' },
    })
    expect(response.statusCode).toBe(404)
  })
})
