// Account recovery by e-mail: password reset links and address verification links. A link holds a
// one-time token of 256 random bits that is stored only as its SHA-256 hash, with what voids it (the
// credentials it was issued against, or the address it was sent to). A reset request answers the same,
// after the same time, whoever asked: the lookup and the mail happen after the answer is decided.
import { createHash, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { InvalidInput, InvalidLink, UserNotFound } from '../../errors.js'
import { checkNewPassword } from '../../security/password-policy.js'
import type { PasswordHasher } from '../../security/passwords.js'
import type { OneTimePurpose, OneTimeTokenRecord, Store, UserRecord } from '../../store/contract.js'
import type { Actor, ClientInfo, SessionHolder } from '../shared/actor.js'
import type { LoginThrottle } from '../throttle/login-throttle.js'
import type { Mailer } from '../mail/mail.js'
import { auditEvent } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'

export interface Recovery {
  /** False when mail is disabled (production without SMTP_URL): the endpoints are not served. */
  readonly enabled: boolean
  /**
   * Asks for a reset link for the account with this address or username. Resolves after the same
   * time whatever the outcome (throttling aside); the link is sent only to an active user's address.
   */
  requestReset(who: { email?: string; username?: string }, client: ClientInfo): Promise<void>
  /** Sets the password with a reset token, ends every session and voids the user's other links. */
  confirmReset(token: string, newPassword: string, client: ClientInfo): Promise<void>
  /** Sends a verification link to the user's address (registration, an address change). */
  sendVerification(user: UserRecord): Promise<void>
  /**
   * After the user's address changed from `oldEmail`: voids their pending reset links (they went to
   * the old address), tells the old address, and sends a verification link to the new one.
   */
  addressChanged(user: UserRecord, oldEmail: string | null): Promise<void>
  /** Tells the owner of an address that another account asked for it (nothing was changed). */
  addressTaken(owner: UserRecord): Promise<void>
  /**
   * Sends the user a new verification link for their own address (the old links die), throttled
   * like reset requests; InvalidInput when there is no address or it is verified already.
   */
  resendVerification(holder: SessionHolder): Promise<void>
  /** Marks the address a verification token was sent to verified. */
  verifyEmail(token: string, client: ClientInfo): Promise<void>
  /** An operator marks a user's address verified (`gatehouse users verify-email`). */
  markVerified(username: string, actor: Actor): Promise<void>
  /** Whether the user may log in under REQUIRE_VERIFIED_EMAIL (null: never asked, counts as verified). */
  isVerified(user: Pick<UserRecord, 'emailVerified'>): boolean
  /** Waits for reset requests still being handled after their answer. */
  close(): Promise<void>
}

export interface RecoveryDeps {
  store: Store
  hasher: PasswordHasher
  mailer: Mailer
  events: SecurityEvents
  throttle: Pick<LoginThrottle, 'recovery'>
  log: Pick<Logger, 'error'>
  /** Links start with it: `<issuer>/reset-password?token=...`. */
  issuer: string
  passwordResetMinutes: number
  requireVerifiedEmail: boolean
  passwordMinLength: number
  /** Every reset request answers after this long (default 250 ms), found or not. */
  answerFloorMs?: number
}

const VERIFY_HOURS = 24
/** 32 bytes in base64url. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

export const hashLinkToken = (token: string): string =>
  createHash('sha256').update(token).digest('base64url')

export function createRecovery(deps: RecoveryDeps): Recovery {
  const { store, hasher, mailer, events, log, issuer } = deps
  const answerFloorMs = deps.answerFloorMs ?? 250
  const pending = new Set<Promise<void>>()
  const isVerified = (user: Pick<UserRecord, 'emailVerified'>) => user.emailVerified !== false

  // A reset link dies with the credentials it was issued for: any password change (by whatever
  // program), a disable or a session purge changes one of the two. The hash is not copied, only digested.
  const credentialsBinding = (user: UserRecord): string =>
    `${user.credentialVersion}:${createHash('sha256').update(user.hashedPassword).digest('base64url')}`

  const issue = async (
    user: UserRecord,
    purpose: OneTimePurpose,
    binding: string,
    validMs: number,
  ): Promise<string> => {
    const token = randomBytes(32).toString('base64url')
    const now = Date.now()
    await store.createOneTimeToken({
      tokenHash: hashLinkToken(token),
      purpose,
      userId: user.id,
      binding,
      createdAt: now,
      expiresAt: now + validMs,
    })
    return token
  }

  /** The token's record and user while the token is usable, or InvalidLink. */
  const redeemable = async (
    token: string,
    purpose: OneTimePurpose,
  ): Promise<{ record: OneTimeTokenRecord; user: UserRecord }> => {
    const invalid = new InvalidLink(purpose)
    if (!TOKEN_SHAPE.test(token)) throw invalid
    // Looked up by its hash: the stored value says nothing of the token, and timing compares hashes.
    const record = await store.findOneTimeToken(hashLinkToken(token))
    if (!record || record.purpose !== purpose || record.usedAt !== null) throw invalid
    if (record.expiresAt <= Date.now()) throw invalid
    const user = await store.findUserById(record.userId)
    if (!user || user.disabled) throw invalid
    const binding = purpose === 'reset' ? credentialsBinding(user) : user.email
    if (binding !== record.binding) throw invalid
    return { record, user }
  }

  const sendReset = async (who: { email?: string; username?: string }): Promise<string> => {
    const user =
      who.email !== undefined
        ? await store.findUserByEmail(who.email)
        : await findByUsername(store, who.username ?? '')
    if (!user) return 'unknown_account'
    if (user.disabled) return 'inactive'
    if (!user.email) return 'no_email'
    if (deps.requireVerifiedEmail && !isVerified(user)) return 'unverified_email'
    const minutes = deps.passwordResetMinutes
    const token = await issue(user, 'reset', credentialsBinding(user), minutes * 60_000)
    await mailer.send('reset', user.email, {
      username: user.username,
      link: `${issuer}/reset-password?token=${token}`,
      validFor: minutes === 1 ? '1 minute' : `${minutes} minutes`,
    })
    return `sent:${user.username}`
  }

  const sendVerification = async (user: UserRecord): Promise<void> => {
    if (!mailer.enabled || !user.email) return
    await store.voidOneTimeTokens(user.id, 'verify', Date.now())
    const token = await issue(user, 'verify', user.email, VERIFY_HOURS * 3_600_000)
    await mailer.send('verify', user.email, {
      username: user.username,
      link: `${issuer}/verify-email?token=${token}`,
      validFor: `${VERIFY_HOURS} hours`,
    })
  }

  return {
    enabled: mailer.enabled,
    isVerified,
    async requestReset(who, client) {
      const started = performance.now()
      try {
        await deps.throttle.recovery(who.email ?? who.username ?? '', client.ip ?? '')
      } catch (error) {
        await events(auditEvent.passwordResetRequested('throttled', client))
        throw error
      }
      // The answer does not wait for the lookup or the mail: its time says nothing of the account.
      const work = sendReset(who)
        .then(async (result) => {
          const sent = result.startsWith('sent:')
          await events(
            sent
              ? auditEvent.passwordResetRequested('requested', client, result.slice(5))
              : auditEvent.passwordResetRequested('not_sent', client, null, result),
          )
        })
        .catch((error: unknown) => log.error({ err: error }, 'password reset request failed'))
        .finally(() => pending.delete(work))
      pending.add(work)
      const remaining = started + answerFloorMs - performance.now()
      if (remaining > 0) await sleep(remaining)
    },
    async confirmReset(token, newPassword, client) {
      const record = (outcome: 'success' | 'invalid_link', username: string | null) =>
        events(auditEvent.passwordReset(outcome, username, client))
      let redeemed
      try {
        redeemed = await redeemable(token, 'reset')
      } catch (error) {
        await record('invalid_link', null)
        throw error
      }
      const { user } = redeemed
      // The policy first: a refused password leaves the link usable for a better one.
      await checkNewPassword(newPassword, {
        minLength: deps.passwordMinLength,
        username: user.username,
        email: user.email,
      })
      const hashed = await hasher.hash(newPassword)
      const now = Date.now()
      if (!(await store.useOneTimeToken(redeemed.record.tokenHash, now))) {
        await record('invalid_link', null)
        throw new InvalidLink('reset')
      }
      // Only over the password the link was issued against; every session ends with it.
      const changed = await store.changeCredentials(
        user.id,
        { hashedPassword: hashed, expectedHash: user.hashedPassword },
        { now },
      )
      await store.voidOneTimeTokens(user.id, 'reset', now)
      if (!changed) {
        await record('invalid_link', user.username)
        throw new InvalidLink('reset')
      }
      await record('success', user.username)
    },
    sendVerification,
    async addressChanged(user, oldEmail) {
      await store.voidOneTimeTokens(user.id, 'reset', Date.now())
      if (mailer.enabled && oldEmail)
        await mailer.send('email_changed', oldEmail, {
          username: user.username,
          link: '',
          validFor: '',
        })
      await sendVerification(user)
    },
    async addressTaken(owner) {
      if (!mailer.enabled || !owner.email) return
      await mailer.send('email_taken', owner.email, {
        username: owner.username,
        link: '',
        validFor: '',
      })
    },
    async verifyEmail(token, client) {
      let redeemed
      try {
        redeemed = await redeemable(token, 'verify')
      } catch (error) {
        await events(auditEvent.emailVerification('invalid_link', null, client))
        throw error
      }
      const { user, record } = redeemed
      const now = Date.now()
      if (
        !(await store.useOneTimeToken(record.tokenHash, now)) ||
        !(await store.setEmailVerified(user.id, record.binding))
      )
        throw new InvalidLink('verify')
      await store.voidOneTimeTokens(user.id, 'verify', now)
      await events(auditEvent.emailVerification('success', user.username, client))
    },
    async resendVerification(holder) {
      const user = await store.findUserById(holder.userId)
      if (!user) throw new UserNotFound(holder.name)
      if (!user.email) throw new InvalidInput('You have no e-mail address to verify')
      if (isVerified(user)) throw new InvalidInput('Your e-mail address is verified already')
      await deps.throttle.recovery(user.email, holder.ip ?? '')
      await sendVerification(user)
      await events(auditEvent.verificationLinkSent(holder, user.username))
    },
    async markVerified(username, actor) {
      const user = await findByUsername(store, username)
      if (!user) throw new UserNotFound(username)
      if (!user.email || !(await store.setEmailVerified(user.id, user.email)))
        throw new InvalidInput(`${user.username} has no e-mail address to verify`)
      await events(auditEvent.userChanged(actor, 'verify_email', user.username))
    },
    async close() {
      await Promise.all(pending)
    },
  }
}

/** Usernames are stored NFKC-normalized; rows another app wrote keep their text. */
async function findByUsername(store: Store, username: string): Promise<UserRecord | undefined> {
  const normalized = username.normalize('NFKC')
  return (
    (await store.findUserByUsername(normalized)) ??
    (normalized === username ? undefined : store.findUserByUsername(username))
  )
}
