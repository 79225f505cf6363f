// The resource-server kit's framework-free core: verifies Gatehouse access tokens in another service
// exactly as Gatehouse does (one algorithm per key, RFC 9068 `typ`, iss, aud, exp, iat, clock
// tolerance, required scopes), with keys from the issuer's RFC 8414 metadata and JWKS or an HMAC
// secret, and optionally learns whether the token is still live: by asking Gatehouse (RFC 7662) or
// from its revocation event stream (revocation-events.ts). Imports only jose and its own modules.
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'
import {
  subscribeToRevocations,
  type RevocationEvents,
  type RevocationEventsOptions,
  type RevocationEventsStatus,
} from './revocation-events.js'

export type {
  RevocationEventsOptions,
  RevocationEventsState,
  RevocationEventsStatus,
} from './revocation-events.js'

/** Who a verified token stands for. */
export interface GatehousePrincipal {
  /** The user's name; null for a client's own token (client_credentials). */
  username: string | null
  /** `sub`: the username, or the client id for a client's own token. */
  subject: string
  /** The scopes the token carries (with introspection: the ones the user still holds). */
  scopes: readonly string[]
  /** The session (`sid`), null for a client's own token. */
  session: string | null
  /** The registered client the token was issued to (`client_id`), if any. */
  client: string | null
  claims: JWTPayload
}

export type RevocationMode =
  | { mode: 'none' }
  | {
      mode: 'introspect'
      /** A confidential client registered at Gatehouse (`gatehouse clients add NAME --confidential`). */
      clientId: string
      clientSecret: string
      /** How long a positive answer is trusted (default 5 s; 0: ask on every request). */
      cacheSeconds?: number
    }
  /** Learn of ended sessions from Gatehouse's revocation event stream: no call per request. */
  | RevocationEventsOptions

export interface GatehouseVerifierOptions {
  /** Gatehouse's base URL (its ISSUER), e.g. https://auth.example.com. */
  issuer: string
  /** Expected `aud`; Gatehouse's default is its issuer. */
  audience?: string
  /** The HMAC secret (SECRET_KEY) for HS256/HS384/HS512 deployments; without it keys come from the JWKS. */
  secret?: string
  /** With `secret`: the one algorithm Gatehouse signs with (ALGORITHM, default HS256). */
  algorithm?: 'HS256' | 'HS384' | 'HS512'
  /** Clock skew tolerated on exp and iat, in seconds (default 30, as Gatehouse). */
  clockToleranceSeconds?: number
  /** Default `none`: a token is trusted until it expires. */
  revocation?: RevocationMode
  /** For tests and proxies. */
  fetch?: typeof fetch
}

/** Why a request is refused, with its HTTP answer (FastAPI-style `detail` body and RFC 6750 challenge). */
export class BearerError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    readonly detail: string,
    readonly challenge: string | undefined,
  ) {
    super(detail)
    this.name = 'BearerError'
  }

  get body(): { detail: string } {
    return { detail: this.detail }
  }
}

const unreachable = () =>
  new BearerError(503, 'The authorization server cannot be reached', undefined)
const notAuthenticated = () => new BearerError(401, 'Not authenticated', 'Bearer')
const invalidToken = (detail = 'Could not validate credentials') =>
  new BearerError(401, detail, 'Bearer error="invalid_token"')
const insufficientScope = (scopes: readonly string[]) =>
  new BearerError(
    403,
    'Not enough permissions',
    `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"`,
  )

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA']
const MAX_TOKEN_LENGTH = 4_096
const MAX_CACHED = 10_000

export interface GatehouseVerifier {
  /** The principal of a valid token holding every one of `requiredScopes`; BearerError otherwise. */
  verify(token: string, requiredScopes?: readonly string[]): Promise<GatehousePrincipal>
  /** Same, from an `Authorization` header value (undefined: not authenticated). */
  authenticate(
    authorization: string | undefined,
    requiredScopes?: readonly string[],
  ): Promise<GatehousePrincipal>
  /** How revocation is learnt; in `events` mode, the stream's state and its last error. */
  status(): { mode: 'none' | 'introspect' } | RevocationEventsStatus
  /** Stops the revocation stream (`events` mode); verifications then answer 503. */
  close(): Promise<void>
}

interface Metadata {
  jwks_uri?: string
  introspection_endpoint?: string
}

export function createGatehouseVerifier(options: GatehouseVerifierOptions): GatehouseVerifier {
  const issuer = options.issuer.replace(/\/$/, '')
  const audience = options.audience ?? issuer
  const clockTolerance = options.clockToleranceSeconds ?? 30
  const revocation = options.revocation ?? { mode: 'none' }
  const doFetch = options.fetch ?? fetch

  let metadata: Promise<Metadata> | undefined
  const discover = (): Promise<Metadata> => {
    metadata ??= doFetch(`${issuer}/.well-known/oauth-authorization-server`)
      .then(async (response) => {
        if (!response.ok) throw new Error(`metadata: HTTP ${response.status}`)
        return (await response.json()) as Metadata
      })
      .catch((error: unknown) => {
        // Try again on the next request rather than failing forever.
        metadata = undefined
        throw error
      })
    return metadata
  }

  let jwks: JWTVerifyGetKey | undefined
  const keyFor = async (): Promise<{ key: JWTVerifyGetKey | Uint8Array; algorithms: string[] }> => {
    if (options.secret !== undefined)
      return {
        key: new TextEncoder().encode(options.secret),
        algorithms: [options.algorithm ?? 'HS256'],
      }
    if (!jwks) {
      const uri = (await discover()).jwks_uri
      if (!uri)
        throw new Error('the issuer publishes no jwks_uri (an HS* deployment needs `secret`)')
      // Cached, refetched on an unknown kid at most once per cooldown (jose).
      jwks = createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
    }
    return { key: jwks, algorithms: ASYMMETRIC }
  }

  const clientAuthorization =
    revocation.mode === 'none'
      ? ''
      : `Basic ${btoa(`${encodeURIComponent(revocation.clientId)}:${encodeURIComponent(revocation.clientSecret)}`)}`

  /** RFC 7662: the scopes of a live token, null for an inactive one; 503 when Gatehouse cannot answer. */
  const introspect = async (token: string): Promise<readonly string[] | null> => {
    let answer: { active?: boolean; scope?: string }
    try {
      const endpoint = (await discover()).introspection_endpoint ?? `${issuer}/introspect`
      const response = await doFetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: clientAuthorization,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      })
      if (!response.ok) throw new Error(`introspection: HTTP ${response.status}`)
      answer = (await response.json()) as typeof answer
    } catch {
      throw unreachable()
    }
    if (answer.active !== true) return null
    return (answer.scope ?? '').split(' ').filter(Boolean)
  }

  const live = new Map<string, { until: number; scopes: readonly string[] }>()
  const introspectWithCache = async (token: string, cacheSeconds = 5) => {
    const cached = live.get(token)
    if (cached && cached.until > Date.now()) return cached.scopes
    live.delete(token)
    const scopes = await introspect(token)
    if (scopes === null) throw invalidToken()
    if (cacheSeconds > 0) {
      if (live.size >= MAX_CACHED) live.delete(live.keys().next().value!)
      live.set(token, { until: Date.now() + cacheSeconds * 1000, scopes })
    }
    return scopes
  }

  // Events mode subscribes at once, so that the state is ready before the first request.
  const events: RevocationEvents | undefined =
    revocation.mode === 'events'
      ? subscribeToRevocations(
          `${issuer}/events/revocations`,
          clientAuthorization,
          revocation,
          doFetch,
        )
      : undefined

  /** The scopes a user's token still holds according to the event stream. */
  const scopesFromEvents = async (
    stream: RevocationEvents,
    token: string,
    claims: { sub: string; sid: string; iat: number },
    scopes: readonly string[],
  ): Promise<readonly string[]> => {
    const verdict = await stream.verdict(claims)
    switch (verdict.kind) {
      case 'live':
        return scopes
      case 'revoked':
        throw invalidToken()
      case 'unavailable':
        throw unreachable()
      case 'recheck': {
        const current = await stream.recheck(token, claims.sub, verdict.changedAt, () =>
          introspect(token),
        )
        if (current === null) throw invalidToken()
        return current
      }
    }
  }

  const verify = async (
    token: string,
    requiredScopes: readonly string[] = [],
  ): Promise<GatehousePrincipal> => {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalidToken()
    let claims: JWTPayload
    try {
      const { key, algorithms } = await keyFor()
      const verified = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        issuer,
        audience,
        typ: 'at+jwt',
        clockTolerance,
        requiredClaims: ['sub', 'exp', 'iat'],
      })
      claims = verified.payload
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw invalidToken('Token has expired')
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw invalidToken()
      throw unreachable()
    }
    const {
      sub,
      sid,
      scope,
      iat,
      client_id: clientId,
    } = claims as JWTPayload & {
      sid?: unknown
      scope?: unknown
      client_id?: unknown
    }
    const clientToken = sid === undefined && typeof clientId === 'string' && clientId === sub
    if (
      typeof sub !== 'string' ||
      (!clientToken && (typeof sid !== 'string' || sid === '')) ||
      (scope !== undefined && typeof scope !== 'string') ||
      (clientId !== undefined && typeof clientId !== 'string') ||
      typeof iat !== 'number' ||
      iat > Date.now() / 1000 + clockTolerance
    )
      throw invalidToken()
    let scopes: readonly string[] =
      typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []
    if (revocation.mode === 'introspect')
      scopes = await introspectWithCache(token, revocation.cacheSeconds)
    // A client's own token has no session to end: trusted until it expires.
    else if (events && !clientToken)
      scopes = await scopesFromEvents(events, token, { sub, sid: sid as string, iat }, scopes)
    const missing = requiredScopes.filter((name) => !scopes.includes(name))
    if (missing.length > 0) throw insufficientScope(requiredScopes)
    return Object.freeze({
      username: clientToken ? null : sub,
      subject: sub,
      scopes,
      session: clientToken ? null : (sid as string),
      client: typeof clientId === 'string' ? clientId : null,
      claims,
    })
  }

  return {
    verify,
    async authenticate(authorization, requiredScopes) {
      const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')
      if (!match) throw notAuthenticated()
      return verify(match[1]!, requiredScopes)
    },
    status: () =>
      events?.status() ?? { mode: revocation.mode === 'introspect' ? 'introspect' : 'none' },
    close: async () => {
      await events?.close()
    },
  }
}
