// Every failure Gatehouse reports on purpose: one class per cause, each with a stable `code`.
// Services and primitives throw these; http/error-handler.ts is the one place that maps them to HTTP,
// and the CLI maps them to messages and exit codes.

export abstract class GatehouseError extends Error {
  abstract readonly code: string

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

/** The user exists and proved who they are, but the account is disabled. */
export class InactiveUser extends GatehouseError {
  readonly code = 'inactive_user'
  constructor() {
    super('Inactive user')
  }
}

/** No bearer credentials were sent at all. */
export class NotAuthenticated extends GatehouseError {
  readonly code = 'not_authenticated'
  constructor() {
    super('Not authenticated')
  }
}

/** A bearer token that is malformed, forged, of an unknown user, or otherwise unusable. */
export class InvalidToken extends GatehouseError {
  readonly code = 'invalid_token'
  constructor(options?: ErrorOptions) {
    super('Could not validate credentials', options)
  }
}

/** A well-formed, correctly signed token whose `exp` has passed. */
export class TokenExpired extends GatehouseError {
  readonly code = 'token_expired'
  constructor() {
    super('Token has expired')
  }
}

/** Too many password checks are already queued: shed load instead of queueing without bound. */
export class Overloaded extends GatehouseError {
  readonly code = 'overloaded'
  constructor(readonly retryAfterSeconds = 1) {
    super('The server is busy, try again shortly')
  }
}

/** A username or email that another account already has. */
export class DuplicateUser extends GatehouseError {
  readonly code = 'duplicate_user'
  constructor(readonly field: 'username' | 'email') {
    super(`A user with this ${field} already exists`)
  }
}

export class UserNotFound extends GatehouseError {
  readonly code = 'user_not_found'
  constructor(username: string) {
    super(`No user named '${username}'`)
  }
}

/** Input to an account operation (CLI, later the admin API) that cannot be accepted. */
export class InvalidInput extends GatehouseError {
  readonly code = 'invalid_input'
}

/** Configuration that cannot be used; raised once at start-up with a message naming the setting. */
export class ConfigError extends GatehouseError {
  readonly code = 'config_error'
}
