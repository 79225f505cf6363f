import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { parseConfig, type MailConfig } from '../../../src/config.js'
import { ConfigError } from '../../../src/errors.js'
import nodemailer from 'nodemailer'
import { createSealer } from '../../../src/security/sealing.js'
import {
  createMailer,
  describeMailSetup,
  smtpTransportOptions,
  type MailSettings,
} from '../../../src/services/mail/mail.js'
import type { SecurityEvent } from '../../../src/services/audit/security-events.js'
import type { Store } from '../../../src/store/contract.js'
import { openPostgresStore } from '../../../src/store/postgres/index.js'
import { openSqliteStore } from '../../../src/store/sqlite/index.js'
import { tempDir } from '../../helper.js'
import { freshSchema, skipPostgres } from '../../support/postgres.js'
import { startSmtpServer } from '../../support/smtp.js'

const SECRET = 'k'.repeat(64)
const SEALING = 's'.repeat(64)
const values = {
  username: 'alice',
  link: 'http://gh.test/reset-password?token=T0K3N',
  validFor: '30 minutes',
}

function sqliteStore(): Store {
  const store = openSqliteStore(join(tempDir(), 'mail.db'))
  onTestFinished(() => store.close())
  return store
}

function mailConfig(vars: Record<string, string>): MailConfig {
  return parseConfig({ SECRET_KEY: SECRET, ...vars }).mail
}

function mailerFor(store: Store, settings: MailSettings, extra: { retryBaseMs?: number } = {}) {
  const events: SecurityEvent[] = []
  const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
  const mailer = createMailer({
    settings,
    store,
    log,
    events: async (event) => {
      events.push(event)
    },
    sealing: { current: SEALING, legacy: SECRET },
    ...extra,
  })
  onTestFinished(() => mailer.stop())
  return { mailer, events, log }
}

describe('mail outbox', () => {
  it('delivers a queued message over SMTP with authentication, as text and HTML', async () => {
    const smtp = await startSmtpServer({ user: 'gate', password: 'p@ss word' })
    const url = smtp.url.replace('p@ss word', encodeURIComponent('p@ss word'))
    const store = sqliteStore()
    const { mailer } = mailerFor(
      store,
      mailConfig({ SMTP_URL: url, MAIL_FROM: 'Gate <gate@gh.test>' }),
    )
    await mailer.send('reset', 'alice@example.com', values)
    expect(await mailer.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 })
    const mail = await smtp.nth(1)
    expect(mail.subject).toBe('Reset your password')
    expect(mail.from?.value).toEqual([{ name: 'Gate', address: 'gate@gh.test' }])
    expect(mail.text).toContain('http://gh.test/reset-password?token=T0K3N')
    expect(mail.html).toContain('href="http://gh.test/reset-password?token=T0K3N"')
  })

  it('keeps the queued message encrypted, and erases it once sent', async () => {
    const smtp = await startSmtpServer()
    const store = sqliteStore()
    const { mailer } = mailerFor(store, mailConfig({ SMTP_URL: smtp.url }))
    const enqueue = vi.spyOn(store, 'enqueueMail')
    const settle = vi.spyOn(store, 'settleMail')
    await mailer.send('verify', 'alice@example.com', values)
    const payload = enqueue.mock.calls[0]![0].payload
    expect(payload).not.toContain('T0K3N')
    expect(payload).not.toContain('alice')
    await mailer.runOnce()
    expect(settle).toHaveBeenCalledWith(expect.any(Number), {
      sentAt: expect.any(Number) as unknown,
    })
  })

  it('never fails the sender of a mail when the server is down, and retries later', async () => {
    const smtp = await startSmtpServer()
    await smtp.close()
    const store = sqliteStore()
    const { mailer, events } = mailerFor(store, mailConfig({ SMTP_URL: smtp.url }), {
      retryBaseMs: 1_000,
    })
    await expect(mailer.send('reset', 'alice@example.com', values)).resolves.toBeUndefined()
    const now = Date.now()
    expect(await mailer.runOnce(now)).toEqual({ sent: 0, retried: 1, failed: 0 })
    expect(await mailer.runOnce(now + 500)).toEqual({ sent: 0, retried: 0, failed: 0 })
    expect(await mailer.runOnce(now + 1_000)).toEqual({ sent: 0, retried: 1, failed: 0 })
    expect(events).toEqual([])
  })

  it('retries a temporary refusal, and gives up a permanent one with an audit event naming no secret', async () => {
    const smtp = await startSmtpServer()
    const store = sqliteStore()
    const { mailer, events } = mailerFor(store, mailConfig({ SMTP_URL: smtp.url }), {
      retryBaseMs: 1_000,
    })
    smtp.refuseNext(1, 451)
    await mailer.send('reset', 'alice@example.com', values)
    const now = Date.now()
    expect(await mailer.runOnce(now)).toEqual({ sent: 0, retried: 1, failed: 0 })
    expect(await mailer.runOnce(now + 1_000)).toEqual({ sent: 1, retried: 0, failed: 0 })
    expect((await smtp.nth(1)).to).toMatchObject({ text: 'alice@example.com' })

    smtp.refuseNext(1, 550)
    await mailer.send('verify', 'nobody@example.com', values)
    expect(await mailer.runOnce(now + 2_000)).toEqual({ sent: 0, retried: 0, failed: 1 })
    expect(events).toEqual([
      expect.objectContaining({ type: 'mail', outcome: 'undeliverable', username: null }),
    ])
    expect(events[0]!.detail).toMatch(/^verify mail #\d+: 550/)
    expect(JSON.stringify(events)).not.toContain('T0K3N')
  })

  it('counts undeliverable mail in the metrics', async () => {
    const { createMetrics } = await import('../../../src/metrics.js')
    const metrics = createMetrics({ hashQueueDepth: () => 0 })
    metrics.record({ type: 'mail', outcome: 'undeliverable', username: null })
    expect(await metrics.registry.metrics()).toContain('gatehouse_mail_undeliverable_total 1')
  })

  it('writes mail to the log without SMTP_URL, saying it is for development only', async () => {
    const store = sqliteStore()
    const config = mailConfig({})
    expect(config.mode).toBe('log')
    expect(describeMailSetup(config)).toMatchObject({
      level: 'warn',
      text: expect.stringMatching(/development only/) as unknown,
    })
    const { mailer, log } = mailerFor(store, config)
    await mailer.send('reset', 'alice@example.com', values)
    expect(await mailer.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 })
    expect(log.info).toHaveBeenCalledWith(
      expect.objectContaining({
        to: 'alice@example.com',
        text: expect.stringContaining('T0K3N') as unknown,
      }),
      expect.stringMatching(/development only.*holds the link/),
    )
  })

  it('is off in production without SMTP_URL, and never echoes the SMTP URL', async () => {
    const config = mailConfig({ NODE_ENV: 'production' })
    expect(config.mode).toBe('disabled')
    expect(describeMailSetup(config).text).toMatch(/disabled/)
    const store = sqliteStore()
    const enqueue = vi.spyOn(store, 'enqueueMail')
    const { mailer } = mailerFor(store, config)
    expect(mailer.enabled).toBe(false)
    await mailer.send('reset', 'alice@example.com', values)
    expect(enqueue).not.toHaveBeenCalled()

    const smtp = mailConfig({ SMTP_URL: 'smtps://u:s3cr3t@mail.example.com' })
    expect(describeMailSetup(smtp).text).toBe('mail is sent through smtps://mail.example.com')
    expect(() => mailConfig({ SMTP_URL: 'http://u:s3cr3t@mail' })).toThrow(ConfigError)
    expect(() => mailConfig({ SMTP_URL: 'http://u:s3cr3t@mail' })).not.toThrow(/s3cr3t/)
    expect(mailConfig({ SMTP_URL: 'smtp://h:25' })).toMatchObject({
      passwordResetMinutes: 30,
      requireVerifiedEmail: false,
    })
    expect(() => mailConfig({ NODE_ENV: 'production', REQUIRE_VERIFIED_EMAIL: 'true' })).toThrow(
      /SMTP_URL/,
    )
  })

  it('uses the templates of MAIL_TEMPLATES_DIR, escaping values in HTML', async () => {
    const dir = join(tempDir(), 'templates')
    mkdirSync(dir)
    for (const kind of ['reset', 'verify']) {
      writeFileSync(
        join(dir, `${kind}.txt`),
        `Subject: ${kind} for {{username}}\n\nGo to {{link}}\n`,
      )
      writeFileSync(join(dir, `${kind}.html`), `<b>{{username}}</b> <a href="{{link}}">go</a>`)
    }
    const smtp = await startSmtpServer()
    const store = sqliteStore()
    const { mailer } = mailerFor(store, mailConfig({ SMTP_URL: smtp.url, MAIL_TEMPLATES_DIR: dir }))
    await mailer.send('verify', 'a@example.com', { ...values, username: '<al&ce>' })
    await mailer.runOnce()
    const mail = await smtp.nth(1)
    expect(mail.subject).toBe('verify for <al&ce>')
    expect(mail.text?.trim()).toBe('Go to http://gh.test/reset-password?token=T0K3N')
    expect(mail.html).toContain('<b>&lt;al&amp;ce&gt;</b>')
    // A directory written before the address notices existed keeps working: theirs are built in.
    await mailer.send('email_changed', 'old@example.com', { ...values, link: '', validFor: '' })
    await mailer.runOnce()
    expect((await smtp.nth(2)).subject).toBe('Your e-mail address was changed')

    writeFileSync(join(dir, 'reset.txt'), 'no subject line\n')
    expect(() =>
      mailerFor(store, mailConfig({ SMTP_URL: smtp.url, MAIL_TEMPLATES_DIR: dir })),
    ).toThrow(/Subject/)
  })

  it.skipIf(skipPostgres)(
    'sends each message once when two instances share the outbox (PostgreSQL)',
    async () => {
      const { url } = await freshSchema()
      const smtp = await startSmtpServer()
      const stores = [await openPostgresStore(url), await openPostgresStore(url)]
      onTestFinished(() => Promise.all(stores.map((store) => store.close())).then(() => undefined))
      const config = mailConfig({ SMTP_URL: smtp.url })
      const [a, b] = stores.map((store) => mailerFor(store, config).mailer)
      for (let i = 0; i < 12; i++) await a!.send('verify', `user${i}@example.com`, values)
      const runs = await Promise.all([a!.runOnce(), b!.runOnce(), a!.runOnce(), b!.runOnce()])
      expect(runs.reduce((sum, run) => sum + run.sent, 0)).toBe(12)
      // Every run has returned, and a send returns only once the server answered, which it does after
      // keeping the message: whatever was sent is in `messages` now, duplicates included.
      const recipients = smtp.messages.map((mail) => (mail.to as { text: string }).text).sort()
      expect(recipients).toEqual([...new Set(recipients)])
      expect(recipients).toHaveLength(12)
    },
  )

  it('sends mail queued before SEALING_KEY existed (sealed under SECRET_KEY), and seals new mail under SEALING_KEY only', async () => {
    const smtp = await startSmtpServer()
    const store = sqliteStore()
    const config = mailConfig({ SMTP_URL: smtp.url })
    // Queued by the previous version: the outbox sealed under a key derived from SECRET_KEY.
    const before = createMailer({
      settings: config,
      store,
      log: { info: vi.fn(), warn: vi.fn(), error: vi.fn() },
      events: async () => {},
      sealing: { current: undefined, legacy: SECRET },
    })
    await before.send('reset', 'alice@example.com', values)
    await before.stop()

    const enqueue = vi.spyOn(store, 'enqueueMail')
    const { mailer } = mailerFor(store, config)
    await mailer.send('verify', 'bob@example.com', values)
    const payload = enqueue.mock.calls[0]![0].payload
    expect(createSealer(SECRET, 'mail outbox').open(payload, 'outbox message')).toBeUndefined()
    expect(createSealer(SEALING, 'mail outbox').open(payload, 'outbox message')).toContain('bob@')

    expect(await mailer.runOnce()).toEqual({ sent: 2, retried: 0, failed: 0 })
    const recipients = smtp.messages.map((mail) => (mail.to as { text: string }).text).sort()
    expect(recipients).toEqual(['alice@example.com', 'bob@example.com'])
  })
})

describe('SMTP transport security (SMTP_TLS)', () => {
  const options = (url: string, extra: Record<string, string> = {}) =>
    smtpTransportOptions(mailConfig({ SMTP_URL: url, ...extra }))

  it('requires STARTTLS for smtp:// to any host but loopback, unless SMTP_TLS=none', () => {
    expect(mailConfig({ SMTP_URL: 'smtp://mail.example.com' }).smtpTls).toBe('required')
    expect(options('smtp://u:p@mail.example.com:587')).toMatchObject({
      host: 'mail.example.com',
      port: 587,
      secure: false,
      requireTLS: true,
    })
    expect(options('smtp://10.0.0.5:25').requireTLS).toBe(true)
    expect(options('smtp://128.0.0.1:25').requireTLS).toBe(true)
    expect(options('smtp://localhost.example.com:25').requireTLS).toBe(true)
    for (const loopback of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '[::1]'])
      expect(options(`smtp://${loopback}:2525`).requireTLS).toBe(false)
    expect(options('smtp://mail.example.com', { SMTP_TLS: 'none' }).requireTLS).toBe(false)
    expect(options('smtps://mail.example.com')).toMatchObject({
      port: 465,
      secure: true,
      requireTLS: false,
    })
    expect(() => mailConfig({ SMTP_TLS: 'off' })).toThrow(/SMTP_TLS must be one of required, none/)
  })

  it('says at start whether STARTTLS is required, and warns when SMTP_TLS=none lets mail go in clear', () => {
    const required = mailConfig({ SMTP_URL: 'smtp://u:s3cr3t@mail.example.com:587' })
    expect(describeMailSetup(required)).toEqual({
      level: 'info',
      text: 'mail is sent through smtp://mail.example.com:587 (STARTTLS required)',
    })
    const none = mailConfig({ SMTP_URL: 'smtp://mail.example.com:587', SMTP_TLS: 'none' })
    expect(describeMailSetup(none)).toMatchObject({
      level: 'warn',
      text: expect.stringMatching(/in clear/) as unknown,
    })
  })

  it('will not send with those options to a server that offers no STARTTLS (as when it is stripped)', async () => {
    const smtp = await startSmtpServer()
    const port = new URL(smtp.url).port
    // The options for a remote host, pointed at the local server that offers no STARTTLS.
    const remote = options(`smtp://mail.example.com:${port}`)
    const transport = nodemailer.createTransport({ ...remote, host: '127.0.0.1' })
    onTestFinished(() => transport.close())
    await expect(
      transport.sendMail({ from: 'a@gh.test', to: 'b@example.com', subject: 'x', text: 'T0K3N' }),
    ).rejects.toThrow(/STARTTLS/i)
    expect(smtp.messages).toHaveLength(0)
  })

  it('sends over loopback without STARTTLS (the mail server is this machine)', async () => {
    const smtp = await startSmtpServer()
    const store = sqliteStore()
    const config = mailConfig({ SMTP_URL: smtp.url })
    expect(smtpTransportOptions(config).requireTLS).toBe(false)
    const { mailer } = mailerFor(store, config)
    await mailer.send('reset', 'alice@example.com', values)
    expect(await mailer.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 })
    expect((await smtp.nth(1)).text).toContain('T0K3N')
  })
})
