// Bearer token -> the current user, read from the store on every request (no start-up cache). The
// same lookup checks the token's session, so a user disabled, removed, logged out or logged out
// everywhere loses access on the very next request, at no extra query.
import { InactiveUser, InvalidToken } from '../errors.js'
import { UnknownSigningKey, type AccessTokenClaims, type TokenService } from '../security/tokens.js'
import type { SessionStore } from '../store/index.js'
import { toPublicUser, type PublicUser } from './public-user.js'

export interface Principal {
  user: PublicUser
  userId: number
  sessionId: string
  /** Scopes the token carries. */
  scopes: readonly string[]
}

export type CurrentUserResolver = (token: string) => Promise<Principal>

export function createCurrentUserResolver(deps: {
  tokens: TokenService
  store: SessionStore
  /** Re-reads signing keys when a token names an unknown `kid` (rotated on another instance). */
  reloadKeys: () => Promise<boolean>
}): CurrentUserResolver {
  const { tokens, store, reloadKeys } = deps

  const verify = async (token: string): Promise<AccessTokenClaims> => {
    try {
      return tokens.verify(token)
    } catch (error) {
      if (error instanceof UnknownSigningKey && (await reloadKeys())) return tokens.verify(token)
      throw error
    }
  }

  return async (token) => {
    const claims = await verify(token)
    const found = await store.findTokenOwner(claims.sub, claims.sid)
    if (!found) throw new InvalidToken()
    const { user, session } = found
    // The tutorial's answer for a disabled user; their sessions are not even looked at.
    if (user.disabled) throw new InactiveUser()
    if (session.revokedAt !== null || session.expiresAt <= Date.now()) throw new InvalidToken()
    return {
      user: toPublicUser(user),
      userId: user.id,
      sessionId: claims.sid,
      scopes: claims.scope,
    }
  }
}
