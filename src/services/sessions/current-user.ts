// Bearer token -> the current user as the store holds it now: one owner lookup per request, which also
// checks the token's session and bounds its scopes by what the session was granted, what its client
// and its user hold now, so a user disabled, removed, logged out (everywhere) or stripped of a scope
// loses that access on the next request, and a token claiming more than it was given gets no more.
// The lookup is answered from memory by the token-owner cache when compose puts it in front (see
// token-owner-cache.ts: the change feed drops what changed, from any process), else by the database.
import type { Logger } from 'pino'
import { InactiveUser, InvalidToken, type TokenMismatch } from '../../errors.js'
import type { AccessTokenClaims } from '../../security/tokens.js'
import type { SessionStore } from '../../store/contract.js'
import { usableScopes } from '../scopes/usable-scopes.js'
import { toPublicUser, type PublicUser } from '../shared/public-user.js'

export interface Principal {
  user: PublicUser
  userId: number
  sessionId: string
  /**
   * Scopes the token carries that its session was granted and its client and user still hold: a scope
   * removed since no longer counts, and one the token claims beyond its grant never did.
   */
  scopes: readonly string[]
  /** How the token's login was made (RFC 8176 `amr`), e.g. ['pwd', 'otp']. */
  amr: readonly string[]
}

export type CurrentUserResolver = (token: string) => Promise<Principal>

/** What operators are told once when correctly signed tokens are refused for a configuration cause. */
const MISMATCH_HINTS: Record<TokenMismatch, string> = {
  issuer:
    'refusing tokens issued by another issuer: instances sharing a database must agree on ISSUER',
  audience:
    "refusing tokens meant for another audience: a resource server's (asked with resource=), or instances sharing a database disagree on AUDIENCE (by default their ISSUER)",
  unknown_key:
    'refusing tokens signed by a key this instance does not have: check SECRET_KEY / SIGNING_KEY_FILE and ALGORITHM on every instance',
}

export function createCurrentUserResolver(deps: {
  verifyAccessToken: (token: string) => Promise<AccessTokenClaims>
  store: Pick<SessionStore, 'findTokenOwner'>
  /** DEFAULT_SCOPES: what a user without scopes of their own holds. */
  defaultScopes: readonly string[]
  log: Pick<Logger, 'info'>
}): CurrentUserResolver {
  const { verifyAccessToken, store, defaultScopes, log } = deps
  const told = new Set<TokenMismatch>()

  const verify = async (token: string): Promise<AccessTokenClaims> => {
    try {
      return await verifyAccessToken(token)
    } catch (error) {
      // Once per cause and process: a flood of such tokens must not flood the log. Never the token.
      if (error instanceof InvalidToken && error.mismatch && !told.has(error.mismatch)) {
        told.add(error.mismatch)
        log.info({ cause: error.mismatch }, MISMATCH_HINTS[error.mismatch])
      }
      throw error
    }
  }

  return async (token) => {
    const claims = await verify(token)
    // A client's own token (client_credentials) has no user: it is for other services, not these routes.
    if (claims.sid === '') throw new InvalidToken()
    const found = await store.findTokenOwner(claims.sub, claims.sid)
    if (!found) throw new InvalidToken()
    const { user, session } = found
    // The tutorial's answer for a disabled user; their sessions are not even looked at.
    if (user.disabled) throw new InactiveUser()
    if (session.revokedAt !== null || session.expiresAt <= Date.now()) throw new InvalidToken()
    // The session says what was granted at login; the client and user rows, read in the same
    // lookup, say what still is. The token's own claim is never trusted beyond them.
    const scopes = usableScopes(claims.scope, [
      session.scope,
      session.clientScopes,
      user.scopes ?? defaultScopes,
    ])
    return {
      user: toPublicUser(user),
      userId: user.id,
      sessionId: claims.sid,
      scopes,
      amr: claims.amr,
    }
  }
}
