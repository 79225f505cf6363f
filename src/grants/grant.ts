// What a grant type is (RFC 6749 §4, §6): the `grant_type` value the token endpoint dispatches on,
// the form parameters it reads (listed here, so the OpenAPI text and RFC 8414 metadata say them),
// and the handler that validates them and calls its use-case. Adding a grant is one module like
// password.ts plus one line in index.ts.
import { InvalidRequest } from '../errors.js'
import type { ClientInfo } from '../services/shared/actor.js'
import type { AuthenticatedClient } from '../services/shared/authenticated-client.js'
import type { TokenResponse } from '../services/shared/token-response.js'

/** The token endpoint's form: every parameter as sent, repeated ones already refused. */
export type TokenForm = Readonly<Record<string, string | undefined>>

export interface Grant {
  /** The `grant_type` value, e.g. `password`. */
  readonly type: string
  /** One line for the token endpoint's description. */
  readonly summary: string
  /** Form parameters this grant reads, required first. */
  readonly parameters: readonly string[]
  /**
   * The grant a registered client must be allowed to use this one (default: this grant's own type):
   * the second step of a password login needs `password`.
   */
  readonly clientGrant?: string
  /** `oauthClient`: the registered client the request authenticated as, if any. */
  exchange(
    form: TokenForm,
    client: ClientInfo & { ip: string },
    oauthClient: AuthenticatedClient | undefined,
  ): Promise<TokenResponse>
}

/** A parameter the grant cannot do without: missing or empty is `invalid_request` (RFC 6749 §5.2). */
export function requiredParameter(form: TokenForm, name: string): string {
  const value = form[name]
  if (value === undefined || value === '') {
    throw new InvalidRequest(`Missing required parameter '${name}'`)
  }
  return value
}
