// Why the kit refuses a request, with its HTTP answer as Gatehouse gives it: a FastAPI-style
// `{"detail"}` body and the RFC 6750 challenge. The verifier throws these; the adapters send them.

export class BearerError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    readonly detail: string,
    readonly challenge: string | undefined,
  ) {
    super(detail)
    this.name = 'BearerError'
  }

  get body(): { detail: string } {
    return { detail: this.detail }
  }
}

export const notAuthenticated = () => new BearerError(401, 'Not authenticated', 'Bearer')

export const invalidToken = (detail = 'Could not validate credentials') =>
  new BearerError(401, detail, 'Bearer error="invalid_token"')

export const insufficientScope = (scopes: readonly string[]) =>
  new BearerError(
    403,
    'Not enough permissions',
    `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"`,
  )

/** Gatehouse (metadata, keys, introspection) did not answer: the token is neither good nor bad yet. */
export const unreachable = () =>
  new BearerError(503, 'The authorization server cannot be reached', undefined)

/** The token is one this service is not configured to check (an HS* token without credentials). */
export const cannotVerify = () =>
  new BearerError(503, 'This service cannot verify tokens of the authorization server', undefined)
