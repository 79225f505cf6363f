// Bearer token -> the current user, read from the store on every request (no start-up cache), so a
// user disabled or removed while the server runs loses access on the very next request.
import { InactiveUser, InvalidToken } from '../errors.js'
import type { TokenService } from '../security/tokens.js'
import type { UserStore } from '../store/index.js'
import { toPublicUser, type PublicUser } from './public-user.js'

export type CurrentUserResolver = (token: string) => Promise<PublicUser>

export function createCurrentUserResolver(deps: { tokens: TokenService; store: UserStore }): CurrentUserResolver {
  const { tokens, store } = deps
  return async (token) => {
    const claims = tokens.verify(token)
    const user = await store.findUserByUsername(claims.sub)
    if (!user) throw new InvalidToken()
    if (user.disabled) throw new InactiveUser()
    return toPublicUser(user)
  }
}
