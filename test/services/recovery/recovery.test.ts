// The account-recovery use-case as a service, on a temporary SQLite store and a real SMTP server:
// reset links (sent only to an active user's address, single use, voided by another password change
// and by time) and verification links (single use, voided by a newer link and by time). The links are
// read from the mail, the only place their tokens exist.
import type { ParsedMail } from 'mailparser'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InvalidCredentials, InvalidInput, InvalidLink, InvalidToken } from '../../../src/errors.js'
import { build, TEST_ACTOR, type TestApp } from '../../helper.js'
import { startSmtpServer } from '../../support/smtp.js'

const FROM = { ip: '203.0.113.7', userAgent: 'recovery-test' }
const PASSWORD = 'correct horse battery'

afterEach(() => {
  vi.useRealTimers()
})

/** The token of the first `<issuer>/<path>?token=` link in a mail. */
function tokenIn(mail: ParsedMail | undefined, path: 'reset-password' | 'verify-email'): string {
  const match = new RegExp(`http://gh\\.test/${path}\\?token=([\\w-]{43})`).exec(mail?.text ?? '')
  if (!match) throw new Error(`no ${path} link in: ${mail?.text}`)
  return match[1]!
}

async function withMail(env: Record<string, string> = {}) {
  const smtp = await startSmtpServer()
  const t = await build({ env: { SMTP_URL: smtp.url, ISSUER: 'http://gh.test', ...env } })
  let seen = 0
  /**
   * The mail sent since the last call: once the reset requests still being handled after their answer
   * have queued theirs, one run of the outbox sends everything (the test's app never starts its sender).
   */
  const newMail = async (): Promise<ParsedMail[]> => {
    await t.services.recovery.close()
    await t.services.mailer.runOnce()
    const mail = smtp.messages.slice(seen)
    seen = smtp.messages.length
    return mail
  }
  return { t, recovery: t.services.recovery, newMail }
}

const login = (t: TestApp, password: string) =>
  t.services.login({ username: 'alice', password, scope: undefined }, FROM)

const recoveryAudit = async (t: TestApp) =>
  (await t.store.listAudit({ limit: 100 }))
    .reverse()
    .filter((event) => event.type === 'password_reset' || event.type === 'email_verification')
    .map((event) => [event.type, event.outcome, event.username, event.detail])

describe('password reset links', () => {
  it('reach an active user’s address, work once, set the password and end every session', async () => {
    const { t, recovery, newMail } = await withMail()
    await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
    await newMail()
    const before = await login(t, PASSWORD)

    await recovery.requestReset({ email: 'ALICE@example.com' }, FROM)
    const [mail, ...more] = await newMail()
    expect(more).toEqual([])
    expect(mail!.subject).toBe('Reset your password')
    expect(mail!.to).toMatchObject({ text: 'alice@example.com' })
    const token = tokenIn(mail, 'reset-password')

    await recovery.confirmReset(token, 'new horse battery', FROM)
    await expect(recovery.confirmReset(token, 'other horse battery', FROM)).rejects.toBeInstanceOf(
      InvalidLink,
    )
    await expect(login(t, PASSWORD)).rejects.toBeInstanceOf(InvalidCredentials)
    await expect(login(t, 'new horse battery')).resolves.toMatchObject({ token_type: 'bearer' })
    await expect(t.services.currentUser(before.access_token)).rejects.toBeInstanceOf(InvalidToken)
    const audit = await t.store.listAudit({ limit: 100 })
    expect(JSON.stringify(audit)).not.toContain(token)
    expect(await recoveryAudit(t)).toEqual([
      ['password_reset', 'requested', 'alice', null],
      ['password_reset', 'success', 'alice', null],
      ['password_reset', 'invalid_link', null, null],
    ])
  })

  it('answer every request alike, sending nothing for an unknown, disabled or address-less account', async () => {
    const { t, recovery, newMail } = await withMail()
    await t.addUser({ username: 'bob' })
    await t.addUser({ username: 'carol', email: 'carol@example.com', disabled: true })
    await newMail()
    await expect(recovery.requestReset({ username: 'nobody' }, FROM)).resolves.toBeUndefined()
    await expect(recovery.requestReset({ username: 'bob' }, FROM)).resolves.toBeUndefined()
    await expect(recovery.requestReset({ username: 'carol' }, FROM)).resolves.toBeUndefined()
    expect(await newMail()).toEqual([])
    // Recorded once each request's lookup is done, after its answer: in any order.
    expect((await recoveryAudit(t)).sort()).toEqual([
      ['password_reset', 'not_sent', null, 'inactive'],
      ['password_reset', 'not_sent', null, 'no_email'],
      ['password_reset', 'not_sent', null, 'unknown_account'],
    ])
  })

  it('stay usable after a refused weak password, and die with another password change or another link used', async () => {
    const { t, recovery, newMail } = await withMail()
    await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
    await newMail()
    const link = async () => {
      await recovery.requestReset({ username: 'alice' }, FROM)
      return tokenIn((await newMail())[0], 'reset-password')
    }

    const first = await link()
    await expect(recovery.confirmReset(first, 'alice', FROM)).rejects.toBeInstanceOf(InvalidInput)
    await t.services.accounts.setPassword('alice', 'admin horse battery', TEST_ACTOR)
    await expect(recovery.confirmReset(first, 'new horse battery', FROM)).rejects.toBeInstanceOf(
      InvalidLink,
    )

    const [second, third] = [await link(), await link()]
    await recovery.confirmReset(third, 'new horse battery', FROM)
    await expect(recovery.confirmReset(second, 'other horse battery', FROM)).rejects.toBeInstanceOf(
      InvalidLink,
    )
    await expect(login(t, 'new horse battery')).resolves.toBeDefined()
  })

  it('expire after PASSWORD_RESET_MINUTES, and refuse anything not shaped like a token', async () => {
    const { t, recovery, newMail } = await withMail({ PASSWORD_RESET_MINUTES: '5' })
    await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
    await newMail()
    await recovery.requestReset({ username: 'alice' }, FROM)
    const [mail] = await newMail()
    expect(mail!.text).toContain('within 5 minutes')
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5 * 60_000 })
    await expect(
      recovery.confirmReset(tokenIn(mail, 'reset-password'), 'new horse battery', FROM),
    ).rejects.toBeInstanceOf(InvalidLink)
    await expect(recovery.confirmReset('nope', 'new horse battery', FROM)).rejects.toBeInstanceOf(
      InvalidLink,
    )
    await expect(login(t, PASSWORD)).resolves.toBeDefined()
  })
})

describe('address verification links', () => {
  it('verify the address once, and are no reset links', async () => {
    const { t, recovery, newMail } = await withMail()
    await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
    expect(await t.services.accounts.get('alice')).toMatchObject({ email_verified: false })
    const [mail] = await newMail()
    expect(mail!.subject).toBe('Confirm your e-mail address')
    const token = tokenIn(mail, 'verify-email')
    await expect(recovery.confirmReset(token, 'new horse battery', FROM)).rejects.toBeInstanceOf(
      InvalidLink,
    )
    await recovery.verifyEmail(token, FROM)
    expect(await t.services.accounts.get('alice')).toMatchObject({ email_verified: true })
    await expect(recovery.verifyEmail(token, FROM)).rejects.toBeInstanceOf(InvalidLink)
    expect((await recoveryAudit(t)).filter(([type]) => type === 'email_verification')).toEqual([
      ['email_verification', 'success', 'alice', null],
      ['email_verification', 'invalid_link', null, null],
    ])
  })

  it('die with a newer link and with an address change, and after a day', async () => {
    const { t, recovery, newMail } = await withMail()
    await t.addUser({ username: 'alice', password: PASSWORD, email: 'alice@example.com' })
    const first = tokenIn((await newMail())[0], 'verify-email')
    const alice = (await t.store.findUserByUsername('alice'))!
    await recovery.resendVerification({ userId: alice.id, name: 'alice', ...FROM })
    const second = tokenIn((await newMail())[0], 'verify-email')
    await expect(recovery.verifyEmail(first, FROM)).rejects.toBeInstanceOf(InvalidLink)

    await t.services.accounts.update('alice', { email: 'alice@example.org' }, TEST_ACTOR)
    const [changed] = await newMail()
    expect(changed!.to).toMatchObject({ text: 'alice@example.org' })
    await expect(recovery.verifyEmail(second, FROM)).rejects.toBeInstanceOf(InvalidLink)

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 24 * 3_600_000 })
    await expect(
      recovery.verifyEmail(tokenIn(changed, 'verify-email'), FROM),
    ).rejects.toBeInstanceOf(InvalidLink)
    expect(await t.services.accounts.get('alice')).toMatchObject({ email_verified: false })
  })
})
