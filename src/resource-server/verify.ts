// The resource-server kit's framework-free core: verifies Gatehouse access tokens in another service
// exactly as Gatehouse does (one algorithm per key, RFC 9068 `typ`, iss, aud, exp, iat, clock
// tolerance, required scopes), with keys from the issuer's RFC 8414 metadata and JWKS or an HMAC
// secret, and optionally asks Gatehouse (RFC 7662) whether the token is still live. Imports only jose.
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'

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

  const live = new Map<string, { until: number; scopes: readonly string[] }>()
  const introspect = async (token: string): Promise<readonly string[]> => {
    if (revocation.mode !== 'introspect') throw new Error('unreachable')
    const cached = live.get(token)
    if (cached && cached.until > Date.now()) return cached.scopes
    live.delete(token)
    const endpoint = (await discover()).introspection_endpoint ?? `${issuer}/introspect`
    const credentials = `${encodeURIComponent(revocation.clientId)}:${encodeURIComponent(revocation.clientSecret)}`
    const response = await doFetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(credentials)}`,
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    })
    if (!response.ok)
      throw new BearerError(503, 'The authorization server cannot be reached', undefined)
    const answer = (await response.json()) as { active?: boolean; scope?: string }
    if (answer.active !== true) throw invalidToken()
    const scopes = (answer.scope ?? '').split(' ').filter(Boolean)
    const ttl = (revocation.cacheSeconds ?? 5) * 1000
    if (ttl > 0) {
      if (live.size >= MAX_CACHED) live.delete(live.keys().next().value!)
      live.set(token, { until: Date.now() + ttl, scopes })
    }
    return scopes
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
      throw new BearerError(503, 'The authorization server cannot be reached', undefined)
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
    if (revocation.mode === 'introspect') scopes = await introspect(token)
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
  }
}
