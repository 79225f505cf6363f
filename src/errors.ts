// Every failure Gatehouse reports on purpose: one class per cause, each with a stable `code` from
// one literal union. Services and primitives throw these; http/error-handler.ts maps every code to
// its HTTP answer in one table the compiler checks is complete, and the CLI prints their messages.

export type ErrorCode =
  | 'invalid_request'
  | 'unsupported_grant_type'
  | 'invalid_credentials'
  | 'invalid_grant'
  | 'inactive_user'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_refresh_token'
  | 'insufficient_scope'
  | 'incorrect_password'
  | 'not_authenticated'
  | 'invalid_token'
  | 'token_expired'
  | 'throttled'
  | 'throttle_unavailable'
  | 'overloaded'
  | 'database_unavailable'
  | 'duplicate_user'
  | 'registration_closed'
  | 'not_found'
  | 'user_not_found'
  | 'invalid_input'
  | 'invalid_client'
  | 'unauthorized_client'
  | 'config_error'
  | 'mfa_required'
  | 'invalid_second_factor'
  | 'insufficient_user_authentication'
  | 'invalid_link'
  | 'unverified_email'
  | 'too_many_streams'

export abstract class GatehouseError extends Error {
  abstract readonly code: ErrorCode

  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A request that is malformed: missing, empty, repeated or oversized parameters (RFC 6749 `invalid_request`). */
export class InvalidRequest extends GatehouseError {
  readonly code = 'invalid_request'
}

/** `grant_type` other than the ones Gatehouse implements. */
export class UnsupportedGrantType extends GatehouseError {
  readonly code = 'unsupported_grant_type'
  constructor(grantType: string) {
    super(`Unsupported grant_type '${grantType.slice(0, 40)}'`)
  }
}

/** Wrong password or unknown user: deliberately one error, so the two cannot be told apart. */
export class InvalidCredentials extends GatehouseError {
  readonly code = 'invalid_credentials'
  constructor() {
    super('Incorrect username or password')
  }
}

/**
 * A grant a registered client presented that is not good (RFC 6749 §5.2 `invalid_grant`): for the
 * password grant, a wrong password or an unknown user, one answer as for InvalidCredentials. Anonymous
 * callers get InvalidCredentials instead (the tutorial's 401 with a Bearer challenge, drop-in).
 */
export class InvalidGrant extends GatehouseError {
  readonly code = 'invalid_grant'
}

/** The user exists and proved who they are, but the account is disabled. */
export class InactiveUser extends GatehouseError {
  readonly code = 'inactive_user'
  constructor() {
    super('Inactive user')
  }
}

/** A requested scope that is unknown or not granted to the user (RFC 6749 `invalid_scope`). */
export class InvalidScope extends GatehouseError {
  readonly code = 'invalid_scope'
}

/** A `resource` (RFC 8707) that no registered client serves: `invalid_target`. */
export class InvalidTarget extends GatehouseError {
  readonly code = 'invalid_target'
  constructor(message = 'The requested resource is not a registered resource server') {
    super(message)
  }
}

/** A refresh token that is unknown, spent, expired, revoked, or of a user who may no longer refresh. */
export class InvalidRefreshToken extends GatehouseError {
  readonly code = 'invalid_refresh_token'
  constructor(reason = 'The refresh token is invalid, expired or revoked') {
    super(reason)
  }
}

/** A valid token without the scopes a route requires (RFC 6750 `insufficient_scope`). */
export class InsufficientScope extends GatehouseError {
  readonly code = 'insufficient_scope'
  constructor(readonly required: readonly string[]) {
    super('Not enough permissions')
  }
}

/** A current password that does not match, when changing it. */
export class IncorrectPassword extends GatehouseError {
  readonly code = 'incorrect_password'
  constructor() {
    super('Incorrect password')
  }
}

/** No bearer credentials were sent at all. */
export class NotAuthenticated extends GatehouseError {
  readonly code = 'not_authenticated'
  constructor() {
    super('Not authenticated')
  }
}

/** Why a correctly signed token was refused for a cause that is configuration, not the token. */
export type TokenMismatch = 'issuer' | 'audience' | 'unknown_key'

/** A bearer token that is malformed, forged, of an unknown user, or otherwise unusable. */
export class InvalidToken extends GatehouseError {
  readonly code = 'invalid_token'
  readonly mismatch: TokenMismatch | undefined
  constructor(options?: ErrorOptions & { reason?: TokenMismatch | undefined }) {
    super('Could not validate credentials', options)
    this.mismatch = options?.reason
  }
}

/**
 * A token naming a `kid` this instance does not (yet) know: the caller may reload keys and retry.
 * Answered like any other invalid token.
 */
export class UnknownSigningKey extends InvalidToken {
  constructor() {
    super({ reason: 'unknown_key' })
  }
}

/** A well-formed, correctly signed token whose `exp` has passed. */
export class TokenExpired extends GatehouseError {
  readonly code = 'token_expired'
  constructor() {
    super('Token has expired')
  }
}

/** Too many failed logins for this username and/or client: refused without a password check. */
export class Throttled extends GatehouseError {
  readonly code = 'throttled'
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many failed login attempts; try again later',
  ) {
    super(message)
  }
}

/** The shared throttling counters (Redis) cannot be reached. */
export class ThrottleUnavailable extends GatehouseError {
  readonly code = 'throttle_unavailable'
}

/** Too much already in progress (password checks queued, event streams open): shed load. */
export class Overloaded extends GatehouseError {
  readonly code = 'overloaded'
  constructor(
    readonly retryAfterSeconds = 1,
    message = 'The server is busy, try again shortly',
  ) {
    super(message)
  }
}

/**
 * The database cannot be reached: connection refused or reset, server shutting down, no free
 * connection within the pool's timeout. Transient by nature, so HTTP answers 503 with Retry-After.
 */
export class DatabaseUnavailable extends GatehouseError {
  readonly code = 'database_unavailable'
  /** `reason` is the driver's own words (e.g. "connect ECONNREFUSED 127.0.0.1:5432"), for operators only. */
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`The database is unavailable (${reason})`, options)
  }
}

/** A username or email that another account already has. */
export class DuplicateUser extends GatehouseError {
  readonly code = 'duplicate_user'
  /** Without a field the message does not say which one is taken (for self-service registration). */
  constructor(readonly field?: 'username' | 'email') {
    super(
      field
        ? `A user with this ${field} already exists`
        : 'This username or email is not available',
    )
  }
}

/** Self-service registration is switched off (REGISTRATION=closed). */
export class RegistrationClosed extends GatehouseError {
  readonly code = 'registration_closed'
  constructor() {
    super('Registration is closed')
  }
}

/** Something that does not exist, e.g. a session of the current user. */
export class NotFound extends GatehouseError {
  readonly code = 'not_found'
}

export class UserNotFound extends GatehouseError {
  readonly code = 'user_not_found'
  constructor(username: string) {
    super(`No user named '${username}'`)
  }
}

/** Input to an account operation (CLI or admin API) that cannot be accepted. */
export class InvalidInput extends GatehouseError {
  readonly code = 'invalid_input'
}

/**
 * Client authentication failed (RFC 6749 §5.2 `invalid_client`): unknown client, wrong or missing
 * secret, or no client named where one is required. `basic` when the client tried HTTP Basic, whose
 * answer is a 401 with a Basic challenge.
 */
export class InvalidClient extends GatehouseError {
  readonly code = 'invalid_client'
  constructor(
    readonly basic: boolean,
    message = 'Client authentication failed',
  ) {
    super(message)
  }
}

/** An authenticated client using a grant (or endpoint) it is not registered for (`unauthorized_client`). */
export class UnauthorizedClient extends GatehouseError {
  readonly code = 'unauthorized_client'
}

/** Configuration that cannot be used; raised once at start-up with a message naming the setting. */
export class ConfigError extends GatehouseError {
  readonly code = 'config_error'
}

/**
 * The password was right, and the user has a second factor: the login continues with an `mfa_token`
 * (Auth0's shape), which the mfa-otp or mfa-recovery-code grant completes.
 */
export class MfaRequired extends GatehouseError {
  readonly code = 'mfa_required'
  constructor(readonly mfaToken: string) {
    super('Multifactor authentication required')
  }
}

/** A wrong or replayed code, a spent recovery code, or an mfa_token that is unknown, spent or expired. */
export class InvalidSecondFactor extends GatehouseError {
  readonly code = 'invalid_second_factor'
}

/**
 * A valid token whose login is not enough for the route (RFC 9470): without a second factor where one
 * is required, or (with `maxAge`, in seconds) too long ago for a sensitive change sent without the
 * current password.
 */
export class InsufficientUserAuthentication extends GatehouseError {
  readonly code = 'insufficient_user_authentication'
  constructor(readonly maxAge?: number) {
    super(
      maxAge === undefined
        ? 'A login with a second factor is required'
        : `This change needs the current password (current_password) or a login within the last ${maxAge} seconds`,
    )
  }
}

/** A password reset or e-mail verification link that is unknown, used, expired or void. */
export class InvalidLink extends GatehouseError {
  readonly code = 'invalid_link'
  constructor(purpose: 'reset' | 'verify') {
    super(`This ${purpose === 'reset' ? 'reset' : 'verification'} link is invalid or has expired`)
  }
}

/** The password was right, but REQUIRE_VERIFIED_EMAIL=true and the user's address awaits verification. */
export class UnverifiedEmail extends GatehouseError {
  readonly code = 'unverified_email'
  constructor() {
    super('The e-mail address of this account is not verified yet: follow the link just sent to it')
  }
}

/** A client already holds as many long-lived streams as it may on this instance: one must end first. */
export class TooManyStreams extends GatehouseError {
  readonly code = 'too_many_streams'
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message)
  }
}
