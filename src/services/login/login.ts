// The password login use-case behind the password grant: check the password through the one
// pipeline (throttle, hashing queue, verification, timing floor), open a session, and record the
// outcome in the audit log, success or not. A user with a second factor gets MfaRequired (with an
// mfa_token) instead of a session, and only after the password was proven.
import { UnverifiedEmail } from '../../errors.js'
import type { UserRecord } from '../../store/contract.js'
import type { ClientInfo } from '../shared/actor.js'
import type { AuthenticatedClient } from '../shared/authenticated-client.js'
import { loginOutcome } from '../shared/login-outcome.js'
import type { TokenResponse } from '../shared/token-response.js'
import type { PasswordCheck } from './password-check.js'
import { auditEvent } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { Sessions } from '../sessions/sessions.js'

export interface LoginRequest {
  username: string
  password: string
  scope: string | undefined
  /** The `client_id` the client sent, if any: an mfa_token is bound to it. */
  clientId?: string | undefined
  /** A registered resource (RFC 8707, checked by the grant) to be the access token's `aud`. */
  resource?: string | undefined
}

/** Logs in from `client`; throws the pipeline's errors (InvalidCredentials, Throttled ...). */
export type Login = (
  request: LoginRequest,
  client: ClientInfo & { ip: string },
  oauthClient?: AuthenticatedClient,
) => Promise<TokenResponse>

/**
 * The second step a login may need (mfa/ provides it): throws MfaRequired, with a new mfa_token,
 * when the user whose password was just verified has a confirmed factor; returns otherwise.
 */
export interface SecondFactorGate {
  requireSecondFactor(
    user: UserRecord,
    request: { scope: string | undefined; clientId: string | undefined },
  ): Promise<void>
}

export function createLogin(deps: {
  checkPassword: PasswordCheck
  sessions: Sessions
  events: SecurityEvents
  /** Second factors; without it every login is by password alone. */
  mfa?: SecondFactorGate
  /** REQUIRE_VERIFIED_EMAIL: users whose address awaits verification are refused (after the password). */
  requireVerifiedEmail?: boolean
  /** A refused unverified user proved their password: a fresh link goes to their address. */
  resendVerification?: (user: UserRecord) => Promise<void>
}): Login {
  const { checkPassword, sessions, events, mfa } = deps
  return async ({ username, password, scope, clientId, resource }, client, oauthClient) => {
    const record = (outcome: string) => events(auditEvent.login(outcome, username, client))
    try {
      const { user } = await checkPassword(username, password, client.ip)
      if (deps.requireVerifiedEmail && user.emailVerified === false) {
        await deps.resendVerification?.(user)
        throw new UnverifiedEmail()
      }
      await mfa?.requireSecondFactor(user, { scope, clientId: oauthClient?.id ?? clientId })
      const response = await sessions.start(user, scope, client, { oauthClient, resource })
      await record('success')
      return response
    } catch (error) {
      await record(loginOutcome(error))
      throw error
    }
  }
}
