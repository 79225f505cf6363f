// What a grant type is (RFC 6749 §4, §6): the `grant_type` value the token endpoint dispatches on,
// the form parameters it reads with their schemas, which clients it admits, and the handler that
// validates the parameters and calls its use-case. Everything the token endpoint, the metadata, the
// OpenAPI text and client registration say of a grant comes from here, through the registry.
import type { TString } from 'typebox'
import { InvalidRequest } from '../errors.js'
import type { ClientInfo } from '../services/shared/actor.js'
import type { ClientGrantRule, Clients } from '../services/clients/clients.js'
import type { Login } from '../services/login/login.js'
import type { Mfa } from '../services/mfa/mfa.js'
import type { Sessions } from '../services/sessions/sessions.js'
import type { AuthenticatedClient } from '../services/shared/authenticated-client.js'
import type { TokenResponse } from '../services/shared/token-response.js'

/** The token endpoint's form: every parameter as sent, repeated ones already refused. */
export type TokenForm = Readonly<Record<string, string | undefined>>

/** One token request, as the grant sees it. */
export interface TokenRequest {
  form: TokenForm
  client: ClientInfo & { ip: string }
  /** The registered client the request authenticated as, if any (admitted by the grant's rule). */
  oauthClient: AuthenticatedClient | undefined
}

/** The use-cases a grant may call: the token route hands them to `exchange`. */
export interface GrantServices {
  login: Login
  sessions: Sessions
  mfa: Mfa
  clients: Clients
}

export interface Grant {
  /** The `grant_type` value, e.g. `password`. */
  readonly type: string
  /** One line for the token endpoint's description. */
  readonly summary: string
  /**
   * The form parameters it reads, each a string schema whose description says what it is. A name two
   * grants share has one schema (see parameters.ts); which ones are required is checked by
   * `exchange`, in protocol order, since it may depend on the request.
   */
  readonly parameters: Readonly<Record<string, TString>>
  /** Which clients may be registered for it and use it (enforced by the clients use-case). */
  readonly clients: Omit<ClientGrantRule, 'type'>
  exchange(request: TokenRequest, services: GrantServices): Promise<TokenResponse>
}

/**
 * The `resource` a request names (RFC 8707), once checked to be registered (InvalidTarget otherwise);
 * undefined without one, for a token of Gatehouse's own audience.
 */
export async function requestedResource(
  form: TokenForm,
  clients: Pick<Clients, 'checkResource'>,
): Promise<string | undefined> {
  const resource = form.resource
  return resource === undefined ? undefined : clients.checkResource(resource)
}

/** A parameter the grant cannot do without: missing or empty is `invalid_request` (RFC 6749 §5.2). */
export function requiredParameter(form: TokenForm, name: string): string {
  const value = form[name]
  if (value === undefined || value === '') {
    throw new InvalidRequest(`Missing required parameter '${name}'`)
  }
  return value
}
