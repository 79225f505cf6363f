// The audit vocabulary: every kind of event Gatehouse records is built here and only here, so that
// what a row says (its type and outcome, whom it is about, who acted, the detail) is decided in one
// place. The use-cases hand what these build to SecurityEvents (security-events.ts), which writes it.
import type { Actor, ClientInfo, SessionHolder } from '../shared/actor.js'
import type { SecurityEvent } from './security-events.js'

/** What admins (or the CLI) do to users, as the audit log names it. */
export type UserAdminAction =
  | 'create_user'
  | 'update_user'
  | 'reset_password'
  | 'revoke_sessions'
  | 'disable_user'
  | 'enable_user'
  | 'delete_user'
  | 'set_scopes'
  | 'verify_email'

/** What admins (or the CLI) do to registered clients. */
export type ClientAdminAction = 'create_client' | 'remove_client' | 'rotate_client_secret'

/** MFA changes and attempts outside the login itself (`remove_<login outcome>`: a refused removal). */
export type MfaOutcome =
  | 'enrol_started'
  | `enrol_${string}`
  | 'enrol_bad_code'
  | 'enrolled'
  | 'removed'
  | `remove_${string}`
  | 'reset'
  | 'reset_none_enrolled'

/** How the second step of a login was made (recorded as its detail). */
export type SecondFactorMethod = 'otp' | 'recovery_code'

/**
 * An admin change names the admin (or `cli:<os user>`) both as `username` and as `actor`, and what
 * was changed in `detail`; it is never held back by the flood guard.
 */
function adminChange(actor: Actor, action: string, detail: string): SecurityEvent {
  return {
    type: 'admin',
    outcome: action,
    username: actor.name,
    ip: actor.ip,
    userAgent: actor.userAgent,
    detail,
    actor: actor.name,
  }
}

/** An event a signed-in user caused on their own account: they are its subject and its actor. */
function byHolder(
  type: SecurityEvent['type'],
  holder: SessionHolder,
  outcome: string,
  username = holder.name,
  detail: string | null = null,
): SecurityEvent {
  return {
    type,
    outcome,
    username,
    ip: holder.ip,
    userAgent: holder.userAgent,
    actor: holder.name,
    detail,
  }
}

export const auditEvent = {
  /**
   * A password login, or its second step: `username` is who tried (null when unknown, as for a
   * dead mfa_token), and becomes the actor only once the login succeeded.
   */
  login(
    outcome: string,
    username: string | null,
    client: ClientInfo,
    secondFactor?: SecondFactorMethod,
  ): SecurityEvent {
    return {
      type: 'login',
      outcome,
      username,
      ip: client.ip,
      userAgent: client.userAgent,
      actor: outcome === 'success' ? username : null,
      detail: secondFactor ?? null,
    }
  },

  /** An admin change to a user account. */
  userChanged: (actor: Actor, action: UserAdminAction, username: string): SecurityEvent =>
    adminChange(actor, action, `user ${username}`),

  /** An admin change to a registered client; `note` adds what followed from it. */
  clientChanged: (
    actor: Actor,
    action: ClientAdminAction,
    clientId: string,
    note?: string,
  ): SecurityEvent =>
    adminChange(
      actor,
      action,
      note === undefined ? `client ${clientId}` : `client ${clientId}: ${note}`,
    ),

  /** A new signing key (`gatehouse keys rotate`). */
  signingKeyRotated: (actor: Actor, kid: string): SecurityEvent =>
    adminChange(actor, 'rotate_signing_key', `key ${kid}`),

  /** Users copied from another database (`gatehouse users import`). */
  usersImported: (
    actor: Actor,
    counts: { imported: number; skippedExisting: number; conflicts: number },
  ): SecurityEvent =>
    adminChange(
      actor,
      'import_users',
      `imported ${counts.imported}, skipped ${counts.skippedExisting}, ${counts.conflicts} conflicts`,
    ),

  /** A client secret that did not match (never the secret itself): counted like a failed login. */
  clientAuthenticationFailed: (clientId: string, ip: string): SecurityEvent => ({
    type: 'client_token',
    outcome: 'bad_client_credentials',
    username: null,
    ip,
    detail: `client ${clientId}`,
  }),

  /** An access token issued to a client for itself (client_credentials): the client is the actor. */
  clientTokenIssued: (clientId: string, from: ClientInfo): SecurityEvent => ({
    type: 'client_token',
    outcome: 'success',
    username: null,
    ip: from.ip,
    userAgent: from.userAgent,
    detail: `client ${clientId}`,
    actor: `client:${clientId}`,
  }),

  /** An MFA change or attempt about `username`, by `actor` (the user, an admin or the CLI). */
  mfa: (actor: Actor, username: string, outcome: MfaOutcome): SecurityEvent => ({
    type: 'mfa',
    outcome,
    username,
    ip: actor.ip,
    userAgent: actor.userAgent,
    actor: actor.name,
  }),

  /** A refresh token rotated (`success`), or a retry within the grace answered (`retry`). */
  tokenRefreshed: (
    outcome: 'success' | 'retry',
    username: string,
    client: ClientInfo,
  ): SecurityEvent => ({
    type: 'token_refresh',
    outcome,
    username,
    ip: client.ip,
    userAgent: client.userAgent,
    actor: username,
  }),

  /** A spent refresh token presented again: its session was ended. Nobody is named as actor. */
  refreshReuse: (
    username: string | null,
    client: ClientInfo,
    sessionId: string,
  ): SecurityEvent => ({
    type: 'refresh_reuse',
    outcome: 'session_revoked',
    username,
    ip: client.ip,
    userAgent: client.userAgent,
    detail: `session ${sessionId}`,
  }),

  /** The holder logged out, or ended one or all of their sessions. */
  sessionsEnded: (holder: SessionHolder, which: 'logout' | 'one' | 'all'): SecurityEvent =>
    which === 'logout'
      ? byHolder('logout', holder, 'success')
      : byHolder('session_revoked', holder, which),

  /** Self-service registration: the new user is the actor. */
  registration: (username: string, client: ClientInfo): SecurityEvent => ({
    type: 'registration',
    outcome: 'success',
    username,
    ip: client.ip,
    userAgent: client.userAgent,
    actor: username,
  }),

  /** The holder's change of their own password (`incorrect_password` or a login outcome when refused). */
  passwordChange: (holder: SessionHolder, outcome: string): SecurityEvent =>
    byHolder('password_change', holder, outcome),

  /** The holder's change of their own profile (the user as stored is the subject). */
  profileChange: (
    holder: SessionHolder,
    username: string,
    outcome: string,
    detail: string | null,
  ): SecurityEvent => byHolder('profile_change', holder, outcome, username, detail),

  /**
   * A reset link was asked for: `requested` (sent to `username`), `not_sent` (why, in `detail`), or
   * `throttled`. Nobody is named as actor: whoever asked proved nothing.
   */
  passwordResetRequested: (
    outcome: 'requested' | 'not_sent' | 'throttled',
    client: ClientInfo,
    username: string | null = null,
    detail: string | null = null,
  ): SecurityEvent => ({
    type: 'password_reset',
    outcome,
    username,
    detail,
    ip: client.ip,
    userAgent: client.userAgent,
  }),

  /** A reset link redeemed (`success`) or refused (`invalid_link`); the link's user acted. */
  passwordReset: (
    outcome: 'success' | 'invalid_link',
    username: string | null,
    client: ClientInfo,
  ): SecurityEvent => ({
    type: 'password_reset',
    outcome,
    username,
    ip: client.ip,
    userAgent: client.userAgent,
    actor: username,
  }),

  /** A verification link redeemed (`success`) or refused (`invalid_link`, no user known). */
  emailVerification: (
    outcome: 'success' | 'invalid_link',
    username: string | null,
    client: ClientInfo,
  ): SecurityEvent => ({
    type: 'email_verification',
    outcome,
    username,
    ip: client.ip,
    userAgent: client.userAgent,
    actor: username,
  }),

  /** The holder asked for a new verification link to their address. */
  verificationLinkSent: (holder: SessionHolder, username: string): SecurityEvent =>
    byHolder('email_verification', holder, 'link_sent', username),

  /** A queued mail given up: its kind, outbox id and the reason (never its content). */
  mailUndeliverable: (kind: string, messageId: number, reason: string): SecurityEvent => ({
    type: 'mail',
    outcome: 'undeliverable',
    username: null,
    detail: `${kind} mail #${messageId}: ${reason}`,
  }),
} as const
