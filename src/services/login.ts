// The password login use-case behind the password grant: check the password through the one
// pipeline (throttle, hashing queue, verification, timing floor), open a session, and record the
// outcome in the audit log, success or not.
import { GatehouseError, type ErrorCode } from '../errors.js'
import type { ClientInfo } from './actor.js'
import type { AuthenticatedClient } from './clients.js'
import type { PasswordCheck } from './password-login.js'
import type { SecurityEvents } from './security-events.js'
import type { Sessions, TokenResponse } from './sessions.js'

export interface LoginRequest {
  username: string
  password: string
  scope: string | undefined
}

/** Logs in from `client`; throws the pipeline's errors (InvalidCredentials, Throttled ...). */
export type Login = (
  request: LoginRequest,
  client: ClientInfo & { ip: string },
  oauthClient?: AuthenticatedClient,
) => Promise<TokenResponse>

/** How a failed login is recorded; other failures are recorded as `error`. */
const OUTCOMES: Partial<Record<ErrorCode, string>> = {
  invalid_credentials: 'bad_credentials',
  inactive_user: 'inactive',
  throttled: 'throttled',
  overloaded: 'overloaded',
  throttle_unavailable: 'overloaded',
  invalid_request: 'invalid_request',
  invalid_scope: 'invalid_request',
}

export function loginOutcome(error: unknown): string {
  return (error instanceof GatehouseError && OUTCOMES[error.code]) || 'error'
}

export function createLogin(deps: {
  checkPassword: PasswordCheck
  sessions: Sessions
  events: SecurityEvents
}): Login {
  const { checkPassword, sessions, events } = deps
  return async ({ username, password, scope }, client, oauthClient) => {
    const record = (outcome: string) =>
      events({
        type: 'login',
        outcome,
        username,
        ...client,
        actor: outcome === 'success' ? username : null,
      })
    try {
      const { user } = await checkPassword(username, password, client.ip)
      const response = await sessions.start(user, scope, client, oauthClient)
      await record('success')
      return response
    } catch (error) {
      await record(loginOutcome(error))
      throw error
    }
  }
}
