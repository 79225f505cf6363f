// Sessions and the token lifecycle (RFC 6749 §6, RFC 9700 §4.14, RFC 7009): every login opens a
// session whose refresh tokens rotate on each use; presenting a spent one revokes the whole session
// (reuse detection). Access tokens name their session (`sid`), and the per-request lookup checks it,
// so ending a session or all of a user's sessions stops its access tokens at once.
import { createHash, randomBytes } from 'node:crypto'
import { InvalidCredentials, InvalidRefreshToken, NotFound } from '../../errors.js'
import type { TokenService } from '../../security/tokens.js'
import type { VerifyAccessToken } from './access-token-verifier.js'
import { createSealer, type SealingKeys } from '../../security/sealing.js'
import type { RefreshTokenRecord, SessionRecord, Store, UserRecord } from '../../store/contract.js'
import type { ClientInfo, SessionHolder } from '../shared/actor.js'
import type { AuthenticatedClient } from '../shared/authenticated-client.js'
import type { TokenResponse } from '../shared/token-response.js'
import type { ScopeCatalog } from '../scopes/scopes.js'
import { auditEvent } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'

export interface SessionView {
  id: string
  created_at: string
  last_used_at: string
  expires_at: string
  user_agent: string | null
  ip: string | null
  scope: string
  current: boolean
}

export interface Sessions {
  /**
   * Opens a session for a user who just proved their password (`user.hashedPassword` is the hash it
   * matched); InvalidCredentials when the credentials changed meanwhile.
   */
  start(
    user: UserRecord,
    requestedScope: string | undefined,
    client: ClientInfo,
    options?: {
      /** How the user authenticated (RFC 8176); the session keeps it for its refreshed tokens. */
      amr?: readonly string[]
      /** The registered client the login came through, when one authenticated. */
      oauthClient?: AuthenticatedClient | undefined
      /** A registered resource (RFC 8707, checked by the grant) to be the access token's `aud`. */
      resource?: string | undefined
    },
  ): Promise<TokenResponse>
  /**
   * The refresh_token grant: rotates the refresh token and issues a new access token, for `resource`
   * when one is named (RFC 8707, checked by the grant), else for this service's own audience.
   */
  refresh(
    refreshToken: string,
    requestedScope: string | undefined,
    client: ClientInfo,
    oauthClient?: AuthenticatedClient,
    resource?: string,
  ): Promise<TokenResponse>
  /** RFC 7009: ends the session of a refresh or access token; unknown tokens are ignored. */
  revokeToken(token: string): Promise<void>
  /** Ends the holder's current session (POST /logout). */
  logout(holder: SessionHolder, sessionId: string): Promise<void>
  /** Ends one of the holder's sessions; NotFound unless it is theirs and active. */
  endOne(holder: SessionHolder, sessionId: string): Promise<void>
  /** Ends every session of the holder ("log out everywhere"). */
  endAll(holder: SessionHolder): Promise<void>
  list(userId: number, currentSessionId: string): Promise<SessionView[]>
}

export interface SessionsOptions {
  store: Store
  tokens: Pick<TokenService, 'issue'>
  /** Verifies an access token, reloading signing keys for an unknown `kid` (RFC 7009 revocation). */
  verifyAccessToken: VerifyAccessToken
  scopes: ScopeCatalog
  refreshTokenExpireDays: number
  refreshTokenIdleDays: number
  /** REFRESH_REUSE_GRACE_SECONDS: a retry of a rotation this recent answers the same successor. */
  refreshReuseGraceSeconds: number
  /** Seals the successor kept for the grace (SEALING_KEY; successors sealed under SECRET_KEY still open). */
  sealing: SealingKeys
  /** Refreshes, detected reuse, logouts and ended sessions are recorded here. */
  events: SecurityEvents
}

const DAY_MS = 86_400_000
/** A login by password alone, and what sessions from before `amr` was recorded were. */
const PASSWORD_ONLY = ['pwd'] as const

/** 256 bits from the CSPRNG; only its SHA-256 is stored (a fast hash suffices for a random secret). */
function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashRefreshToken(token) }
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

export function createSessions(options: SessionsOptions): Sessions {
  const { store, tokens, scopes } = options
  const idleMs = options.refreshTokenIdleDays * DAY_MS
  const graceMs = options.refreshReuseGraceSeconds * 1000
  const sealer = createSealer(options.sealing, 'refresh successor')

  const respond = (
    user: UserRecord,
    sessionId: string,
    granted: string[],
    requested: string | undefined,
    refreshToken: string,
    amr: readonly string[],
    clientId: string | null,
    resource: string | undefined,
  ): TokenResponse => {
    const access = tokens.issue(user.username, sessionId, granted, {
      amr,
      clientId: clientId ?? undefined,
      audience: resource,
    })
    const response: TokenResponse = {
      access_token: access.token,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      refresh_token: refreshToken,
    }
    const scope = granted.join(' ')
    if (requested === undefined || normalize(requested) !== scope) response.scope = scope
    return response
  }

  const reportReuse = async (session: SessionRecord, client: ClientInfo): Promise<void> => {
    const username = (await store.findUserById(session.userId))?.username ?? null
    await options.events(auditEvent.refreshReuse(username, client, session.id))
  }

  const endOwn = async (holder: SessionHolder, sessionId: string): Promise<void> => {
    if (!(await store.revokeSession(sessionId, Date.now(), holder.userId))) {
      throw new NotFound('No such active session')
    }
  }

  const isLive = (session: SessionRecord, at: number): boolean =>
    session.revokedAt === null && session.expiresAt > at && session.lastUsedAt + idleMs > at

  const endForReuse = async (session: SessionRecord, client: ClientInfo): Promise<never> => {
    await store.revokeSession(session.id, Date.now())
    await reportReuse(session, client)
    throw new InvalidRefreshToken()
  }

  /** Whether a session may be refreshed now, by this client, and with which scopes. */
  const admitRefresh = async (
    session: SessionRecord,
    requestedScope: string | undefined,
    oauthClient: AuthenticatedClient | undefined,
  ): Promise<{ user: UserRecord; session: SessionRecord; granted: string[] }> => {
    if (!isLive(session, Date.now())) throw new InvalidRefreshToken()
    // A refresh token is bound to the client it was issued to (RFC 6749 §6).
    if (session.clientId !== null && session.clientId !== oauthClient?.id)
      throw new InvalidRefreshToken()
    const user = await store.findUserById(session.userId)
    if (!user || user.disabled) throw new InvalidRefreshToken()
    // A narrower scope may be asked for, never a wider one, nor one the user has lost since.
    const allowed = boundedBy(
      session.scope.filter((name) => scopes.granted(user).includes(name)),
      oauthClient,
    )
    return { user, session, granted: scopes.resolve(requestedScope, allowed) }
  }

  /**
   * The same refresh token again within REFRESH_REUSE_GRACE_SECONDS of its rotation: the successor
   * it was rotated into, unsealed, and a fresh access token; undefined when this is no such retry.
   */
  const answerRetry = async (
    found: { token: RefreshTokenRecord; session: SessionRecord },
    hash: string,
    requestedScope: string | undefined,
    client: ClientInfo,
    oauthClient: AuthenticatedClient | undefined,
    resource: string | undefined,
  ): Promise<TokenResponse | undefined> => {
    const { token } = found
    if (token.spentAt === null || token.successor === null) return undefined
    if (token.spentAt + graceMs <= Date.now()) return undefined
    const successor = sealer.open(token.successor, hash)
    if (successor === undefined) return undefined
    // Only while the successor is still the session's live refresh token: once it has been used,
    // the answer was not lost, and the old token coming back is reuse.
    const head = await store.findRefreshToken(hashRefreshToken(successor))
    if (!head || head.token.spentAt !== null) return undefined
    // The successor goes only to the client the token was issued to (anonymous to anonymous): a
    // stolen spent token replayed by anyone else within the grace is reuse, and ends the family.
    if (found.session.clientId !== (oauthClient?.id ?? null))
      await endForReuse(found.session, client)
    const { user, session, granted } = await admitRefresh(
      found.session,
      requestedScope,
      oauthClient,
    )
    await options.events(auditEvent.tokenRefreshed('retry', user.username, client))
    const amr = session.amr.length > 0 ? session.amr : PASSWORD_ONLY
    return respond(
      user,
      session.id,
      granted,
      requestedScope,
      successor,
      amr,
      session.clientId,
      resource,
    )
  }

  return {
    async start(user, requestedScope, client, { amr = PASSWORD_ONLY, oauthClient, resource } = {}) {
      const granted = scopes.resolve(requestedScope, boundedBy(scopes.granted(user), oauthClient))
      const sessionId = randomBytes(16).toString('base64url')
      const refresh = newRefreshToken()
      const createdAt = Date.now()
      const session = {
        id: sessionId,
        userId: user.id,
        scope: granted,
        createdAt,
        expiresAt: createdAt + options.refreshTokenExpireDays * DAY_MS,
        userAgent: client.userAgent?.slice(0, 512) ?? null,
        ip: client.ip,
        clientId: oauthClient?.id ?? null,
        refreshTokenHash: refresh.hash,
        amr,
      }
      // Only if the password just verified is still the user's, and nothing disabled, re-enabled or
      // ended the user's sessions meanwhile: a change acknowledged before this moment wins.
      const current = {
        hashedPassword: user.hashedPassword,
        credentialVersion: user.credentialVersion,
      }
      if (!(await store.createSessionIfCurrent(session, current))) throw new InvalidCredentials()
      return respond(
        user,
        sessionId,
        granted,
        requestedScope,
        refresh.token,
        amr,
        session.clientId,
        resource,
      )
    },

    async refresh(refreshToken, requestedScope, client, oauthClient, resource) {
      const at = Date.now()
      const hash = hashRefreshToken(refreshToken)
      const found = await store.findRefreshToken(hash)
      if (!found) throw new InvalidRefreshToken()
      if (found.token.spentAt !== null) {
        // A retry within the grace (a lost answer, a duplicated tab) gets the answer it missed.
        const retried = await answerRetry(
          found,
          hash,
          requestedScope,
          client,
          oauthClient,
          resource,
        )
        if (retried) return retried
        // A spent token presented again: whoever holds it, the session is compromised (RFC 9700 §4.14.2).
        await endForReuse(found.session, client)
      }
      const { user, session, granted } = await admitRefresh(
        found.session,
        requestedScope,
        oauthClient,
      )

      const next = newRefreshToken()
      // The successor, sealed, stays on the spent row for the grace, so a retry can be answered it.
      const sealed = graceMs > 0 ? sealer.seal(next.token, hash) : undefined
      if (!(await store.rotateRefreshToken(hash, next.hash, at, sealed))) {
        // Lost a race with another use of the same token: a retry within the grace if the winner's
        // rotation is what we now read (it committed with its sealed successor), reuse otherwise.
        const again = await store.findRefreshToken(hash)
        const retried =
          again && again.token.spentAt !== null
            ? await answerRetry(again, hash, requestedScope, client, oauthClient, resource)
            : undefined
        if (retried) return retried
        await endForReuse(session, client)
      }
      await options.events(auditEvent.tokenRefreshed('success', user.username, client))
      // The refreshed token says how its login was made, not merely that a refresh token was held.
      const amr = session.amr.length > 0 ? session.amr : PASSWORD_ONLY
      return respond(
        user,
        session.id,
        granted,
        requestedScope,
        next.token,
        amr,
        session.clientId,
        resource,
      )
    },

    async revokeToken(token) {
      const at = Date.now()
      const found = await store.findRefreshToken(hashRefreshToken(token))
      if (found) {
        await store.revokeSession(found.session.id, at)
        return
      }
      let sessionId: string
      try {
        // Any audience: a token asked for a resource server ends its session too.
        sessionId = (await options.verifyAccessToken(token, { anyAudience: true })).sid
      } catch {
        // RFC 7009 §2.2: an invalid or unknown token is not an error.
        return
      }
      // Outside the try: a database failure must not answer 200 for a session that is still active.
      await store.revokeSession(sessionId, at)
    },

    async logout(holder, sessionId) {
      await endOwn(holder, sessionId)
      await options.events(auditEvent.sessionsEnded(holder, 'logout'))
    },

    async endOne(holder, sessionId) {
      await endOwn(holder, sessionId)
      await options.events(auditEvent.sessionsEnded(holder, 'one'))
    },

    async endAll(holder) {
      // Through the credential version, so that logins in flight end too.
      await store.changeCredentials(holder.userId, {}, { now: Date.now() })
      await options.events(auditEvent.sessionsEnded(holder, 'all'))
    },

    async list(userId, currentSessionId) {
      const at = Date.now()
      return (await store.listActiveSessions(userId, at))
        .filter((session) => isLive(session, at))
        .map((session) => ({
          id: session.id,
          created_at: new Date(session.createdAt).toISOString(),
          last_used_at: new Date(session.lastUsedAt).toISOString(),
          expires_at: new Date(
            Math.min(session.expiresAt, session.lastUsedAt + idleMs),
          ).toISOString(),
          user_agent: session.userAgent,
          ip: session.ip,
          scope: session.scope.join(' '),
          current: session.id === currentSessionId,
        }))
    },
  }
}

/** What a registered client may ask for bounds what its user's grant gives. */
function boundedBy(allowed: readonly string[], client: AuthenticatedClient | undefined): string[] {
  return client ? allowed.filter((name) => client.scopes.includes(name)) : [...allowed]
}

function normalize(scope: string): string {
  return [...new Set(scope.split(' ').filter(Boolean))].join(' ')
}
