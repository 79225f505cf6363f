// The password login use-case behind the password grant: check the password through the one
// pipeline (throttle, hashing queue, verification, timing floor), open a session, and record the
// outcome in the audit log, success or not. A user with a second factor gets MfaRequired (with an
// mfa_token) instead of a session, and only after the password was proven.
import { GatehouseError, UnverifiedEmail, type ErrorCode } from '../../errors.js'
import type { UserRecord } from '../../store/contract.js'
import type { ClientInfo } from '../shared/actor.js'
import type { AuthenticatedClient } from '../clients/clients.js'
import type { Mfa } from '../mfa/mfa.js'
import type { PasswordCheck } from './password-check.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { Sessions, TokenResponse } from '../sessions/sessions.js'

export interface LoginRequest {
  username: string
  password: string
  scope: string | undefined
  /** The `client_id` the client sent, if any: an mfa_token is bound to it. */
  clientId?: string | undefined
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
  mfa_required: 'mfa_required',
  unverified_email: 'unverified_email',
}

export function loginOutcome(error: unknown): string {
  return (error instanceof GatehouseError && OUTCOMES[error.code]) || 'error'
}

export function createLogin(deps: {
  checkPassword: PasswordCheck
  sessions: Sessions
  events: SecurityEvents
  /** Second factors; without it every login is by password alone. */
  mfa?: Pick<Mfa, 'requireSecondFactor'>
  /** REQUIRE_VERIFIED_EMAIL: users whose address awaits verification are refused (after the password). */
  requireVerifiedEmail?: boolean
  /** A refused unverified user proved their password: a fresh link goes to their address. */
  resendVerification?: (user: UserRecord) => Promise<void>
}): Login {
  const { checkPassword, sessions, events, mfa } = deps
  return async ({ username, password, scope, clientId }, client, oauthClient) => {
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
      if (deps.requireVerifiedEmail && user.emailVerified === false) {
        await deps.resendVerification?.(user)
        throw new UnverifiedEmail()
      }
      await mfa?.requireSecondFactor(user, { scope, clientId: oauthClient?.id ?? clientId })
      const response = await sessions.start(user, scope, client, { oauthClient })
      await record('success')
      return response
    } catch (error) {
      await record(loginOutcome(error))
      throw error
    }
  }
}
