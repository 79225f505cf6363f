// Token introspection (RFC 7662) for resource servers: whether a token is live *now*, decided from
// the live session, user and client rows (a logout, a disable or a removed scope shows at once), and
// what it stands for. Anything else, however odd the token, is simply `{"active": false}`.
import { GatehouseError } from '../../errors.js'
import type { AccessTokenClaims } from '../../security/tokens.js'
import type { Store } from '../../store/contract.js'
import type { ScopeCatalog } from '../scopes/scopes.js'
import { usableScopes } from '../scopes/usable-scopes.js'
import type { VerifyAccessToken } from '../sessions/access-token-verifier.js'
import { hashRefreshToken } from '../sessions/sessions.js'

export interface IntrospectionAnswer {
  active: boolean
  sub?: string
  scope?: string
  client_id?: string
  username?: string
  token_type?: 'Bearer' | 'refresh_token'
  exp?: number
  iat?: number
  iss?: string
  aud?: string
  sid?: string
}

/** `caller`: the client_id of the authenticated client asking (RFC 7662 §2.1). */
export type Introspect = (
  token: string,
  hint: string | undefined,
  caller: string,
) => Promise<IntrospectionAnswer>

export interface IntrospectionDeps {
  store: Pick<Store, 'findTokenOwner' | 'findUserById' | 'findRefreshToken' | 'findClient'>
  verifyAccessToken: VerifyAccessToken
  scopes: ScopeCatalog
  issuer: string
  audience: string
  refreshTokenIdleDays: number
}

const INACTIVE: IntrospectionAnswer = Object.freeze({ active: false })
const MAX_TOKEN_LENGTH = 8_192

export function createIntrospection(deps: IntrospectionDeps): Introspect {
  const { store, scopes, issuer, audience } = deps
  const idleMs = deps.refreshTokenIdleDays * 86_400_000
  const seconds = (ms: number) => Math.floor(ms / 1000)

  const accessToken = async (token: string): Promise<IntrospectionAnswer> => {
    let claims: AccessTokenClaims
    try {
      // Any audience: a resource server asks about the tokens requested for it (RFC 8707).
      claims = await deps.verifyAccessToken(token, { anyAudience: true })
    } catch (error) {
      // Forged, expired, malformed ...: not active. Only our own refusals; a database outage is a 503.
      if (error instanceof GatehouseError && error.code !== 'database_unavailable') return INACTIVE
      throw error
    }
    const common = {
      token_type: 'Bearer' as const,
      exp: claims.exp,
      iat: claims.iat,
      iss: issuer,
      aud: claims.aud.join(' '),
    }
    if (claims.sid === '') {
      // A client's own token: live while the client is registered, within the scopes it still has.
      const client = await store.findClient(claims.sub)
      if (!client) return INACTIVE
      const scope = claims.scope.filter((name) => client.scopes.includes(name))
      return {
        active: true,
        sub: claims.sub,
        client_id: claims.sub,
        scope: scope.join(' '),
        ...common,
      }
    }
    const owner = await store.findTokenOwner(claims.sub, claims.sid)
    if (!owner || owner.user.disabled) return INACTIVE
    if (owner.session.revokedAt !== null || owner.session.expiresAt <= Date.now()) return INACTIVE
    const user = await store.findUserById(owner.user.id)
    if (!user) return INACTIVE
    // Bounded as on the protected routes: the session's grant, its client and the user now.
    const scope = usableScopes(claims.scope, [
      owner.session.scope,
      owner.session.clientScopes,
      scopes.granted(user),
    ])
    return {
      active: true,
      sub: claims.sub,
      username: claims.sub,
      sid: claims.sid,
      scope: scope.join(' '),
      ...(claims.clientId === undefined ? {} : { client_id: claims.clientId }),
      ...common,
    }
  }

  const refreshToken = async (
    token: string,
    caller: string,
  ): Promise<IntrospectionAnswer | undefined> => {
    const found = await store.findRefreshToken(hashRefreshToken(token))
    if (!found) return undefined
    const { token: row, session } = found
    // A refresh token is a secret between its client and Gatehouse (RFC 6749 §10.4): no other party
    // learns whether it is live or whose it is, and one issued to no client belongs to no caller.
    if (session.clientId !== caller) return INACTIVE
    const now = Date.now()
    const live =
      row.spentAt === null &&
      session.revokedAt === null &&
      session.expiresAt > now &&
      session.lastUsedAt + idleMs > now
    if (!live) return INACTIVE
    const user = await store.findUserById(session.userId)
    if (!user || user.disabled) return INACTIVE
    const client = session.clientId === null ? undefined : await store.findClient(session.clientId)
    if (session.clientId !== null && !client) return INACTIVE
    const scope = usableScopes(session.scope, [client?.scopes ?? null, scopes.granted(user)])
    return {
      active: true,
      token_type: 'refresh_token',
      sub: user.username,
      username: user.username,
      sid: session.id,
      scope: scope.join(' '),
      ...(session.clientId === null ? {} : { client_id: session.clientId }),
      exp: seconds(Math.min(session.expiresAt, session.lastUsedAt + idleMs)),
      iat: seconds(row.issuedAt),
      iss: issuer,
      aud: audience,
    }
  }

  return async (token, hint, caller) => {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return INACTIVE
    // A JWT has dots, a refresh token (base64url) none; the hint only orders the look-ups (RFC 7662 §2.1).
    const looksLikeJwt = token.includes('.')
    if (!looksLikeJwt || hint === 'refresh_token') {
      const answer = await refreshToken(token, caller)
      if (answer) return answer
    }
    return looksLikeJwt ? accessToken(token) : INACTIVE
  }
}
