// Outgoing mail: messages are rendered from templates, queued in the store's outbox (encrypted, as
// they carry one-time links) and sent by a background sender, so that a slow or absent mail server
// never blocks or fails the request that caused the mail. Every instance polls; a claim (SKIP LOCKED)
// gives each message to one of them. The only module that imports the mail transport.
import { BlockList, isIP } from 'node:net'
import type { Transporter } from 'nodemailer'
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js'
import type { Logger } from 'pino'
import { createSealer, type SealingKeys } from '../../security/sealing.js'
import type { MailStore, OutboxMessage } from '../../store/contract.js'
import { loadMailTemplates, renderMail, type MailKind, type MailValues } from './mail-templates.js'
import { auditEvent } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'

export type { MailKind } from './mail-templates.js'

/** What a sealed outbox payload is bound to: it opens as nothing else. */
const OUTBOX = 'outbox message'

export interface Mailer {
  /** False in production without SMTP_URL: nothing is queued and the mail features are off. */
  readonly enabled: boolean
  /** Renders and queues a message to `to`; returns once it is stored, never waits for sending. */
  send(kind: MailKind, to: string, values: MailValues): Promise<void>
  /** Polls the outbox from now on, on timers that do not keep the process alive. */
  start(): void
  /** Stops polling and waits for a run in progress. */
  stop(): Promise<void>
  /** One pass over the messages due at `now`. */
  runOnce(now?: number): Promise<{ sent: number; retried: number; failed: number }>
}

/** How mail leaves Gatehouse (compose.ts fills it from the configuration). */
export interface MailSettings {
  /**
   * 'smtp': sent through `smtpUrl`; 'log': written to the server log instead (development only);
   * 'disabled': no mail, and the features that need it are off.
   */
  mode: 'smtp' | 'log' | 'disabled'
  /** smtp:// or smtps://; may carry a password, so it is never echoed. */
  smtpUrl: string | undefined
  /** 'required': smtp:// to a host other than loopback must upgrade with STARTTLS; 'none': need not. */
  smtpTls: 'required' | 'none'
  /** The From header. */
  from: string
  /** A directory of templates replacing the built-in ones. */
  templatesDir: string | undefined
}

export interface MailerOptions {
  settings: MailSettings
  store: MailStore
  log: Pick<Logger, 'info' | 'warn' | 'error'>
  events: SecurityEvents
  /**
   * The outbox is encrypted with a key derived from SEALING_KEY (messages queued before it existed,
   * under SECRET_KEY, still open): instances sharing the database share these.
   */
  sealing: SealingKeys
  /** Time between polls of the outbox (default 5 s; a message queued here is sent at once anyway). */
  pollIntervalMs?: number
  /** Attempts before a message is given up (default 8, about 2 hours of backoff). */
  maxAttempts?: number
  /** The first retry's delay; each further one doubles (default 30 s, at most 1 h). */
  retryBaseMs?: number
  /**
   * A span per message sent (tracing on): starts one with these attributes (the message's kind, never
   * an address or its text) and returns the function that ends it, failed when given the error.
   */
  startSpan?: (name: string, attributes: Record<string, string>) => (failure?: unknown) => void
}

/** A claimed message is someone else's to retry only after this long (a sender that died mid-send). */
const CLAIM_MS = 5 * 60_000
const BATCH = 10
const MAX_RETRY_MS = 3_600_000
/** Sent and failed messages, and expired tokens, are deleted this long after. */
const KEEP_MS = 7 * 86_400_000
const PRUNE_EVERY_MS = 3_600_000

interface Envelope {
  to: string
  subject: string
  text: string
  html: string
}

export function createMailer(options: MailerOptions): Mailer {
  const { settings, store, log, events } = options
  const enabled = settings.mode !== 'disabled'
  const templates = enabled ? loadMailTemplates(settings.templatesDir) : undefined
  const sealer = createSealer(options.sealing, 'mail outbox')
  const maxAttempts = options.maxAttempts ?? 8
  const retryBaseMs = options.retryBaseMs ?? 30_000
  const pollIntervalMs = options.pollIntervalMs ?? 5_000
  // Loaded with the first message: nodemailer weighs 3 MB of heap that most processes never use.
  let transport: Promise<Transporter> | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined
  let again = false
  let lastPrune = 0

  const deliver = async (envelope: Envelope): Promise<void> => {
    if (settings.mode !== 'smtp') {
      log.info(
        { to: envelope.to, subject: envelope.subject, text: envelope.text },
        'mail NOT sent (no SMTP_URL; for development only): this line holds the link itself',
      )
      return
    }
    const sender = await (transport ??= createTransport(settings))
    await sender.sendMail({
      from: settings.from,
      to: envelope.to,
      subject: envelope.subject,
      text: envelope.text,
      html: envelope.html,
    })
  }

  const attempt = async (
    message: OutboxMessage,
    now: number,
  ): Promise<'sent' | 'retried' | 'failed'> => {
    const opened = sealer.open(message.payload ?? '', OUTBOX)
    if (opened === undefined) {
      // Written under another SEALING_KEY, or damaged: no retry can help.
      return giveUp(message, now, 'the message cannot be decrypted (SEALING_KEY changed?)')
    }
    const envelope = JSON.parse(opened) as Envelope
    const endSpan = options.startSpan?.('mail.send', { 'gatehouse.mail.kind': message.kind })
    try {
      await deliver(envelope).then(
        () => endSpan?.(),
        (error: unknown) => {
          endSpan?.(error)
          throw error
        },
      )
      await store.settleMail(message.id, { sentAt: Date.now() })
      return 'sent'
    } catch (error) {
      const reason = describe(error)
      const attempts = message.attempts + 1
      if (isPermanent(error) || attempts >= maxAttempts) return giveUp(message, now, reason)
      const retryAt = now + Math.min(retryBaseMs * 2 ** (attempts - 1), MAX_RETRY_MS)
      await store.settleMail(message.id, { retryAt, error: reason })
      log.warn({ mail: message.id, kind: message.kind, attempts, reason }, 'mail not sent yet')
      return 'retried'
    }
  }

  const giveUp = async (message: OutboxMessage, now: number, reason: string) => {
    await store.settleMail(message.id, { failedAt: now, error: reason })
    log.error({ mail: message.id, kind: message.kind, reason }, 'mail could not be delivered')
    await events(auditEvent.mailUndeliverable(message.kind, message.id, reason))
    return 'failed' as const
  }

  const runOnce = async (now = Date.now()) => {
    const counts = { sent: 0, retried: 0, failed: 0 }
    if (!enabled) return counts
    for (;;) {
      const batch = await store.claimMail(now, BATCH, now + CLAIM_MS)
      for (const message of batch) counts[await attempt(message, now)]++
      if (batch.length < BATCH) break
    }
    if (now - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = now
      await store.pruneMail(now - KEEP_MS)
    }
    return counts
  }

  const tick = (): void => {
    if (running) {
      again = true
      return
    }
    running = runOnce()
      .catch((error: unknown) => log.error({ err: error }, 'mail outbox run failed'))
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          tick()
        }
      })
  }

  return {
    enabled,
    async send(kind, to, values) {
      if (!templates) return
      const rendered = renderMail(templates[kind], values)
      const payload = sealer.seal(JSON.stringify({ to, ...rendered }), OUTBOX)
      await store.enqueueMail({ kind, payload }, Date.now())
      if (timer) tick()
    },
    start() {
      if (timer || !enabled) return
      timer = setInterval(tick, pollIntervalMs)
      timer.unref()
      tick()
    },
    async stop() {
      clearInterval(timer)
      timer = undefined
      again = false
      await running
      const opened = await transport?.catch(() => undefined)
      opened?.close()
    },
    runOnce,
  }
}

/** What the server says about mail at start: where it goes, or that the features are off. */
export function describeMailSetup(settings: Pick<MailSettings, 'mode' | 'smtpUrl' | 'smtpTls'>): {
  level: 'info' | 'warn'
  text: string
} {
  if (settings.mode === 'smtp') {
    const url = new URL(settings.smtpUrl!)
    // The host only: the URL may carry a password.
    const { requireTLS } = smtpTransportOptions(settings)
    const clear = url.protocol === 'smtp:' && !requireTLS
    return {
      level: clear && settings.smtpTls === 'none' ? 'warn' : 'info',
      text: `mail is sent through ${url.protocol}//${url.host}${requireTLS ? ' (STARTTLS required)' : clear ? ' (STARTTLS when offered: links may travel in clear)' : ''}`,
    }
  }
  if (settings.mode === 'log')
    return {
      level: 'warn',
      text: 'SMTP_URL is not set: mail (password reset and verification links) is written to this log instead of being sent. For development only.',
    }
  return {
    level: 'warn',
    text: 'SMTP_URL is not set in production: password reset and e-mail verification are disabled',
  }
}

/**
 * The transport options for SMTP_URL and SMTP_TLS. smtps:// is TLS from the start. smtp:// must
 * upgrade with STARTTLS (requireTLS): a network attacker who strips the server's offer would otherwise
 * read the reset links; only a loopback host (the mail server is this machine) or SMTP_TLS=none lets
 * it go on in clear when no upgrade is offered.
 */
export function smtpTransportOptions(
  settings: Pick<MailSettings, 'smtpUrl' | 'smtpTls'>,
): SMTPTransport.Options {
  const url = new URL(settings.smtpUrl!)
  const secure = url.protocol === 'smtps:'
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return {
    host,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: !secure && settings.smtpTls === 'required' && !isLoopback(host),
    auth: url.username
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  }
}

/** 127.0.0.0/8 and ::1 (IPv4-mapped ones included): addresses whose traffic never leaves the host. */
const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

function isLoopback(host: string): boolean {
  const name = host.toLowerCase()
  if (name === 'localhost') return true
  const version = isIP(name)
  return version !== 0 && LOOPBACK.check(name, version === 4 ? 'ipv4' : 'ipv6')
}

async function createTransport(settings: MailSettings): Promise<Transporter> {
  const { default: nodemailer } = await import('nodemailer')
  return nodemailer.createTransport(smtpTransportOptions(settings))
}

/** A 5xx SMTP answer (e.g. no such mailbox) will not change on retry. */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: unknown }).responseCode
  return typeof code === 'number' && code >= 500 && code < 600
}

/** A short reason for the log and the audit row; SMTP errors never hold the message body. */
function describe(error: unknown): string {
  const { responseCode, code, message } = error as {
    responseCode?: number
    code?: string
    message?: string
  }
  const text = (message ?? String(error)).replace(/\s+/g, ' ').slice(0, 200)
  return [responseCode, code, text].filter((part) => part !== undefined).join(' ')
}
