// Second factors (issue #17): TOTP enrolment, recovery codes, and the second step of a password login
// in Auth0's shape (`mfa_required` with an `mfa_token`, completed by the mfa-otp or mfa-recovery-code
// grant). Every change and every attempt is audited; attempts are throttled per user and per
// mfa_token by the login throttle (LoginThrottle.secondFactor), with its failure mode.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  IncorrectPassword,
  InsufficientUserAuthentication,
  InvalidInput,
  InvalidSecondFactor,
  MfaRequired,
  NotFound,
  UserNotFound,
} from '../../errors.js'
import { createSealer, macKeys, type SealingKeys } from '../../security/sealing.js'
import { generateTotpSecret, matchTotp, qrCodeSvg, totpUri } from '../../security/totp.js'
import type { Store, UserRecord } from '../../store/contract.js'
import type { Actor, ClientInfo, SessionHolder } from '../shared/actor.js'
import type { AuthenticatedClient } from '../shared/authenticated-client.js'
import { loginOutcome } from '../shared/login-outcome.js'
import type { TokenResponse } from '../shared/token-response.js'
import type { LoginThrottle } from '../throttle/login-throttle.js'
import type { SecondFactorGate } from '../login/login.js'
import type {
  ReauthenticationProof,
  RequireRecentAuthentication,
} from '../login/recent-authentication.js'
import { auditEvent, type MfaOutcome, type SecondFactorMethod } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { Sessions } from '../sessions/sessions.js'

/** How long an mfa_token lets the second step be made after the password. */
export const MFA_TOKEN_TTL_MS = 5 * 60_000
export const RECOVERY_CODE_COUNT = 10
/** What a login with a second factor says it was (RFC 8176): a password and a one-time code. */
export const MFA_AMR = ['pwd', 'otp'] as const

export interface TotpEnrolment {
  secret: string
  otpauth_uri: string
  qr_svg: string
}

export interface MfaStatus {
  totp: 'none' | 'pending' | 'confirmed'
  /** Unused recovery codes. */
  recovery_codes_left: number
}

export interface Mfa extends SecondFactorGate {
  status(userId: number): Promise<MfaStatus>
  /** Status of a user by name, for admins and the CLI. */
  statusOf(username: string): Promise<MfaStatus>
  /**
   * Starts (or restarts) a TOTP enrolment; InvalidInput when one is already confirmed. Needs recent
   * authentication (the password, or a recent login): a bearer token alone must not enrol a factor.
   */
  startTotp(holder: SessionHolder, proof: ReauthenticationProof): Promise<TotpEnrolment>
  /**
   * Confirms the pending enrolment with a first code: answers the recovery codes (shown this once)
   * and ends every other session of the user but `proof.sessionId`. Needs recent authentication.
   */
  confirmTotp(
    holder: SessionHolder,
    proof: ReauthenticationProof,
    code: string,
  ): Promise<{ recovery_codes: string[] }>
  /**
   * Removes the factor: needs recent authentication and a current TOTP or recovery code (whoever
   * holds a token and the password must still hold the factor); ends every other session.
   */
  removeTotp(holder: SessionHolder, proof: ReauthenticationProof, code: string): Promise<void>
  /** An admin (or the CLI) removes a user's factor and codes, and ends all their sessions. */
  reset(username: string, actor: Actor): Promise<void>
  /** The mfa-otp grant. */
  completeWithOtp(
    mfaToken: string,
    otp: string,
    clientId: string | undefined,
    client: ClientInfo & { ip: string },
    oauthClient?: AuthenticatedClient,
    /** A registered resource (RFC 8707, checked by the grant) to be the access token's `aud`. */
    resource?: string,
  ): Promise<TokenResponse>
  /** The mfa-recovery-code grant; spends the code. */
  completeWithRecoveryCode(
    mfaToken: string,
    recoveryCode: string,
    clientId: string | undefined,
    client: ClientInfo & { ip: string },
    oauthClient?: AuthenticatedClient,
    /** A registered resource (RFC 8707, checked by the grant) to be the access token's `aud`. */
    resource?: string,
  ): Promise<TokenResponse>
}

export interface MfaOptions {
  store: Store
  throttle: Pick<LoginThrottle, 'secondFactor' | 'enrolment'>
  /**
   * SEALING_KEY, with SECRET_KEY as the legacy key that seeds and codes stored before it were sealed
   * under; or MFA_ENCRYPTION_KEY alone (as legacy: its derivation is unchanged).
   */
  sealing: SealingKeys
  /** Recent authentication for enrolling and removing (RECENT_AUTH_SECONDS or the password). */
  requireRecentAuthentication: RequireRecentAuthentication
  sessions: Sessions
  events: SecurityEvents
  /** The name authenticator apps show beside the account. */
  issuerName?: string
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url')

/** A recovery code as typed: case, spaces and dashes do not matter. */
const normalizeRecoveryCode = (code: string): string => code.toLowerCase().replace(/[\s-]/g, '')

/** 10 base32 characters (50 bits), shown as `xxxxx-xxxxx`. */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const bytes = randomBytes(10)
  const chars = [...bytes].map((byte) => alphabet[byte & 31]).join('')
  return `${chars.slice(0, 5)}-${chars.slice(5)}`
}

export function createMfa(options: MfaOptions): Mfa {
  const { store, throttle, requireRecentAuthentication, sessions, events } = options
  const issuerName = options.issuerName ?? 'Gatehouse'
  const box = createSealer(options.sealing, 'totp secrets')
  const context = (userId: number) => `totp:${userId}`
  // Keyed: a database dump alone cannot test guesses against the stored recovery codes. Codes made
  // before SEALING_KEY keep their legacy MAC until spent (a MAC cannot be redone without the code).
  const macKey = macKeys(options.sealing, 'recovery codes', (legacy) =>
    createHmac('sha256', legacy).update('gatehouse mfa').digest(),
  )
  const recoveryHashWith = (key: Buffer | string, userId: number, code: string): string =>
    createHmac('sha256', key)
      .update(`recovery\0${userId}\0${normalizeRecoveryCode(code)}`)
      .digest('base64url')
  const recoveryHash = (userId: number, code: string): string =>
    recoveryHashWith(macKey.current, userId, code)
  const spendRecoveryCode = async (userId: number, code: string): Promise<boolean> =>
    (await store.spendRecoveryCode(userId, recoveryHash(userId, code), Date.now())) ||
    (macKey.legacy !== undefined &&
      store.spendRecoveryCode(userId, recoveryHashWith(macKey.legacy, userId, code), Date.now()))
  const findUser = async (username: string): Promise<UserRecord> => {
    const user = await store.findUserByUsername(username)
    if (!user) throw new UserNotFound(username)
    return user
  }

  const statusOf = async (userId: number): Promise<MfaStatus> => {
    const factor = await store.findTotp(userId)
    return {
      totp: !factor ? 'none' : factor.confirmedAt === null ? 'pending' : 'confirmed',
      recovery_codes_left: factor?.confirmedAt ? await store.countRecoveryCodes(userId) : 0,
    }
  }

  /** An MFA change or attempt, by `actor`, about `username`. */
  const record = (actor: Actor, username: string, outcome: MfaOutcome) =>
    events(auditEvent.mfa(actor, username, outcome))

  /** Ends every session of the user but `exceptSessionId` (through the credential version: logins in flight too). */
  const endOtherSessions = (userId: number, exceptSessionId?: string) =>
    store.changeCredentials(userId, {}, { now: Date.now(), exceptSessionId })

  /** The live mfa_token and its user, still with the credentials it was made for. */
  const openChallenge = async (mfaToken: string, clientId: string | undefined) => {
    const dead = () => new InvalidSecondFactor('The mfa_token is invalid, expired or already used')
    if (mfaToken.length > 256) throw dead()
    const tokenHash = sha256(mfaToken)
    const challenge = await store.findMfaToken(tokenHash)
    const now = Date.now()
    if (!challenge || challenge.spentAt !== null || challenge.expiresAt <= now) throw dead()
    if (challenge.clientId !== (clientId ?? null)) throw dead()
    const user = await store.findUserById(challenge.userId)
    // Bound to the password verification: a password change, a disable or "log out everywhere" since kills it.
    const digest = user && sha256(user.hashedPassword)
    if (
      !user ||
      user.disabled ||
      user.credentialVersion !== challenge.credentialVersion ||
      !digest ||
      !timingSafeEqual(Buffer.from(digest), Buffer.from(challenge.passwordDigest))
    )
      throw dead()
    const attempt = await throttle.secondFactor(user.id, tokenHash)
    return { challenge, user, tokenHash, attempt }
  }

  const complete = async (
    method: SecondFactorMethod,
    mfaToken: string,
    clientId: string | undefined,
    client: ClientInfo & { ip: string },
    oauthClient: AuthenticatedClient | undefined,
    verify: (user: UserRecord) => Promise<boolean>,
    resource: string | undefined,
  ): Promise<TokenResponse> => {
    let username: string | null = null
    const recordLogin = (outcome: string) =>
      events(auditEvent.login(outcome, username, client, method))
    try {
      const { challenge, user, tokenHash, attempt } = await openChallenge(mfaToken, clientId)
      username = user.username
      if (!(await verify(user)))
        throw new InvalidSecondFactor(
          method === 'otp'
            ? 'Invalid or already used code'
            : 'Invalid or already used recovery code',
        )
      if (!(await store.spendMfaToken(tokenHash, Date.now())))
        throw new InvalidSecondFactor('The mfa_token is invalid, expired or already used')
      await attempt.succeeded()
      // Created only while the verified password and credential version are still the user's.
      const response = await sessions.start(user, challenge.scope ?? undefined, client, {
        amr: MFA_AMR,
        oauthClient,
        resource,
      })
      await recordLogin('success')
      return response
    } catch (error) {
      await recordLogin(
        error instanceof InvalidSecondFactor ? 'bad_second_factor' : loginOutcome(error),
      )
      throw error
    }
  }

  /** Recent authentication, or the refusal recorded (`enrol_...`, `remove_...`) and thrown. */
  const reauthenticated = async (
    holder: SessionHolder,
    proof: ReauthenticationProof,
    action: 'enrol' | 'remove',
  ): Promise<void> => {
    try {
      await requireRecentAuthentication(holder, proof)
    } catch (error) {
      const outcome =
        error instanceof IncorrectPassword
          ? 'incorrect_password'
          : error instanceof InsufficientUserAuthentication
            ? 'not_recent'
            : loginOutcome(error)
      await record(holder, holder.name, `${action}_${outcome}` as MfaOutcome)
      throw error
    }
  }

  /** Whether `code` is the user's current TOTP code, not accepted before (replays are refused). */
  const acceptTotp = async (user: UserRecord, code: string): Promise<boolean> => {
    const factor = await store.findTotp(user.id)
    if (!factor || factor.confirmedAt === null) return false
    // Unreadable (MFA_ENCRYPTION_KEY or SEALING_KEY changed): no code matches; an admin resets it.
    const opened = box.unseal(factor.sealedSecret, context(user.id))
    const step = opened === undefined ? undefined : matchTotp(opened.plain, code, Date.now())
    if (step === undefined || !(await store.acceptTotpStep(user.id, step))) return false
    // Sealed under SECRET_KEY before SEALING_KEY existed: sealed again under SEALING_KEY, on use.
    if (opened?.stale)
      await store.resealTotp(user.id, factor.sealedSecret, box.seal(opened.plain, context(user.id)))
    return true
  }

  return {
    status: statusOf,
    async statusOf(username) {
      return statusOf((await findUser(username)).id)
    },

    async startTotp(holder, proof) {
      await reauthenticated(holder, proof, 'enrol')
      const secret = generateTotpSecret()
      if (
        !(await store.startTotp(
          holder.userId,
          box.seal(secret, context(holder.userId)),
          Date.now(),
        ))
      )
        throw new InvalidInput(
          'A second factor is already enrolled; remove it before enrolling another',
        )
      await record(holder, holder.name, 'enrol_started')
      const uri = totpUri(secret, issuerName, holder.name)
      return { secret, otpauth_uri: uri, qr_svg: await qrCodeSvg(uri) }
    },

    async confirmTotp(holder, proof, code) {
      await reauthenticated(holder, proof, 'enrol')
      const factor = await store.findTotp(holder.userId)
      if (!factor || factor.confirmedAt !== null)
        throw new NotFound('No enrolment is waiting for confirmation')
      // A counter of its own, charged only with an enrolment pending: wrong codes here (from a
      // stolen token, say) never block the owner's MFA logins.
      const attempt = await throttle.enrolment(holder.userId)
      const secret = box.open(factor.sealedSecret, context(holder.userId))
      const step = secret === undefined ? undefined : matchTotp(secret, code, Date.now())
      if (step === undefined) {
        await record(holder, holder.name, 'enrol_bad_code')
        throw new InvalidSecondFactor('Invalid code')
      }
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
      const hashes = codes.map((one) => recoveryHash(holder.userId, one))
      if (!(await store.confirmTotp(holder.userId, factor.sealedSecret, step, hashes, Date.now())))
        throw new NotFound('No enrolment is waiting for confirmation')
      await attempt.succeeded()
      await endOtherSessions(holder.userId, proof.sessionId)
      await record(holder, holder.name, 'enrolled')
      return { recovery_codes: codes }
    },

    async removeTotp(holder, proof, code) {
      await reauthenticated(holder, proof, 'remove')
      const factor = await store.findTotp(holder.userId)
      if (!factor || factor.confirmedAt === null) throw new NotFound('No second factor is enrolled')
      // The second factor itself, throttled as its login step is: a token and a password are not enough.
      const attempt = await throttle.secondFactor(holder.userId)
      const user = await store.findUserById(holder.userId)
      const proven =
        user !== undefined &&
        ((await acceptTotp(user, code)) ||
          (code.length <= 64 &&
            (await store.spendRecoveryCode(user.id, recoveryHash(user.id, code), Date.now()))))
      if (!proven) {
        await record(holder, holder.name, 'remove_bad_code')
        throw new InvalidSecondFactor('Invalid or already used code')
      }
      await attempt.succeeded()
      if (!(await store.removeTotp(holder.userId)))
        throw new NotFound('No second factor is enrolled')
      await endOtherSessions(holder.userId, proof.sessionId)
      await record(holder, holder.name, 'removed')
    },

    async reset(username, actor) {
      const user = await findUser(username)
      const removed = await store.removeTotp(user.id)
      // Whoever lost their factor may have lost it to someone: their sessions end too.
      await endOtherSessions(user.id)
      await record(actor, username, removed ? 'reset' : 'reset_none_enrolled')
    },

    async requireSecondFactor(user, request) {
      const factor = await store.findTotp(user.id)
      if (!factor || factor.confirmedAt === null) return
      const token = randomBytes(32).toString('base64url')
      const now = Date.now()
      await store.createMfaToken({
        tokenHash: sha256(token),
        userId: user.id,
        clientId: request.clientId ?? null,
        scope: request.scope ?? null,
        passwordDigest: sha256(user.hashedPassword),
        credentialVersion: user.credentialVersion,
        createdAt: now,
        expiresAt: now + MFA_TOKEN_TTL_MS,
        spentAt: null,
      })
      throw new MfaRequired(token)
    },

    completeWithOtp: (mfaToken, otp, clientId, client, oauthClient, resource) =>
      complete(
        'otp',
        mfaToken,
        clientId,
        client,
        oauthClient,
        (user) => acceptTotp(user, otp),
        resource,
      ),

    completeWithRecoveryCode: (mfaToken, code, clientId, client, oauthClient, resource) =>
      complete(
        'recovery_code',
        mfaToken,
        clientId,
        client,
        oauthClient,
        (user) => (code.length > 64 ? Promise.resolve(false) : spendRecoveryCode(user.id, code)),
        resource,
      ),
  }
}
