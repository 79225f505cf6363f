// Recent authentication for sensitive account changes (RFC 9470's step-up, issue 22 item 1): a bearer
// token alone must not enrol or remove a factor or move the address reset links go to. The request
// proves its user again with the current password (through the one password pipeline: throttle,
// equal-time work), or comes from a session whose login was within RECENT_AUTH_SECONDS.
import {
  IncorrectPassword,
  InsufficientUserAuthentication,
  InvalidCredentials,
} from '../../errors.js'
import type { SessionStore } from '../../store/contract.js'
import type { SessionHolder } from '../shared/actor.js'
import type { PasswordCheck } from './password-check.js'

/** What a sensitive request offers as proof: its session, and the password if it sent one. */
export interface ReauthenticationProof {
  sessionId: string
  /** `current_password` as sent; absent or empty means none. */
  currentPassword?: string | undefined
}

/** How the proof was made: by the password now, or by a login recent enough. */
export type RecentAuthenticationMethod = 'password' | 'recent_login'

/**
 * Passes when the proof holds; IncorrectPassword for a wrong password (and the pipeline's own errors:
 * Throttled, Overloaded ...), InsufficientUserAuthentication (with `max_age`) when no password came
 * and the session's login is older than RECENT_AUTH_SECONDS. A refresh does not renew the login time.
 */
export type RequireRecentAuthentication = (
  holder: SessionHolder,
  proof: ReauthenticationProof,
) => Promise<RecentAuthenticationMethod>

export function createRecentAuthentication(deps: {
  store: Pick<SessionStore, 'listActiveSessions'>
  checkPassword: PasswordCheck
  /** RECENT_AUTH_SECONDS; 0: only the password counts. */
  maxAgeSeconds: number
}): RequireRecentAuthentication {
  const { store, checkPassword, maxAgeSeconds } = deps
  return async (holder, { sessionId, currentPassword }) => {
    if (currentPassword !== undefined && currentPassword !== '') {
      try {
        await checkPassword(holder.name, currentPassword, holder.ip ?? '')
      } catch (error) {
        throw error instanceof InvalidCredentials ? new IncorrectPassword() : error
      }
      return 'password'
    }
    const now = Date.now()
    // Only sensitive requests ask, so the one extra read stays off every other request's path.
    const session = (await store.listActiveSessions(holder.userId, now)).find(
      (one) => one.id === sessionId,
    )
    // The session's creation is its login (a password, a second factor); refreshes keep it.
    if (session && maxAgeSeconds > 0 && now - session.createdAt <= maxAgeSeconds * 1000)
      return 'recent_login'
    throw new InsufficientUserAuthentication(maxAgeSeconds)
  }
}
