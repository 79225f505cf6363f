// The resource-server kit's framework-free core: verifies Gatehouse access tokens in another service
// as Gatehouse does (one algorithm per key, RFC 9068 `typ`, iss, aud, exp, iat, clock tolerance,
// required scopes), with the keys of the issuer's RFC 8414 metadata and JWKS, or, for an HS* Gatehouse
// whose secret it never holds, by introspection; and optionally learns whether a token is still live:
// by asking Gatehouse (RFC 7662) or from its revocation event stream (revocation-events.ts). It fails
// closed: what it cannot decide is a 503, never a pass. Imports only jose and its own modules.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'
import {
  cannotVerify,
  insufficientScope,
  invalidToken,
  notAuthenticated,
  unreachable,
} from './bearer-error.js'
import { createIntrospectionClient, type IntrospectionClient } from './introspection-client.js'
import {
  subscribeToRevocations,
  type RevocationEvents,
  type RevocationEventsStatus,
} from './revocation-events.js'
import { checkVerifierOptions, type GatehouseVerifierOptions } from './verifier-options.js'

export { BearerError } from './bearer-error.js'
export type {
  RevocationEventsOptions,
  RevocationEventsState,
  RevocationEventsStatus,
} from './revocation-events.js'
export type {
  ClientCredentials,
  GatehouseVerifierOptions,
  RevocationMode,
} from './verifier-options.js'

interface PrincipalBase {
  /** `sub`: the username, or the client id for a client's own token. */
  subject: string
  /** The scopes the token carries (with introspection: the ones its user still holds). */
  scopes: readonly string[]
  /** The token's claims (verified locally, or as Gatehouse's introspection states them). */
  claims: JWTPayload
}

/** A user's token: what every route accepts. */
export interface UserPrincipal extends PrincipalBase {
  username: string
  /** The session (`sid`). */
  session: string
  /** The registered client the token was issued to (`client_id`), if any. */
  client: string | null
}

/** A client's own token (client_credentials): no user, no session. Only routes that allow clients. */
export interface ClientPrincipal extends PrincipalBase {
  username: null
  session: null
  client: string
}

/** Who a verified token stands for; `username === null` tells a client's own token. */
export type GatehousePrincipal = UserPrincipal | ClientPrincipal

/** What a route accepts besides the scopes. */
export interface AccessOptions {
  /** Accept a client's own token (client_credentials, no user); default false: only users' tokens. */
  allowClients?: boolean
}

export interface GatehouseVerifier {
  /** The principal of a valid user's token holding every one of `requiredScopes`; BearerError otherwise. */
  verify(
    token: string,
    requiredScopes?: readonly string[],
    access?: AccessOptions & { allowClients?: false },
  ): Promise<UserPrincipal>
  /** Same, also accepting a client's own token when `allowClients` is true. */
  verify(
    token: string,
    requiredScopes: readonly string[] | undefined,
    access: AccessOptions,
  ): Promise<GatehousePrincipal>
  /** Same, from an `Authorization` header value (undefined: not authenticated). */
  authenticate(
    authorization: string | undefined,
    requiredScopes?: readonly string[],
    access?: AccessOptions & { allowClients?: false },
  ): Promise<UserPrincipal>
  authenticate(
    authorization: string | undefined,
    requiredScopes: readonly string[] | undefined,
    access: AccessOptions,
  ): Promise<GatehousePrincipal>
  /** How revocation is learnt; in `events` mode, the stream's state and its last error. */
  status(): { mode: 'none' | 'introspect' } | RevocationEventsStatus
  /** Stops the revocation stream (`events` mode); verifications then answer 503. */
  close(): Promise<void>
}

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA']
const SYMMETRIC = ['HS256', 'HS384', 'HS512']
const MAX_TOKEN_LENGTH = 4_096
/** How long Gatehouse's answer for a token of an HS* Gatehouse is reused (events mode). */
const SYMMETRIC_CACHE_SECONDS = 5

interface Metadata {
  jwks_uri?: string
  introspection_endpoint?: string
}

/** The issuer's keys could not be fetched: a 503, not a refusal of the token. */
class KeySourceUnreachable extends Error {}

const scopesOf = (claims: JWTPayload): readonly string[] =>
  typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []

export function createGatehouseVerifier(options: GatehouseVerifierOptions): GatehouseVerifier {
  const revocation = checkVerifierOptions(options)
  const issuer = options.issuer.replace(/\/$/, '')
  const audience = options.audience ?? issuer
  const clockTolerance = options.clockToleranceSeconds ?? 30
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

  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined
  // Cached, refetched on an unknown kid at most once per cooldown (jose).
  const remoteKeys = async () =>
    (jwks ??= createRemoteJWKSet(
      new URL((await discover()).jwks_uri ?? `${issuer}/.well-known/jwks.json`),
      { cooldownDuration: 30_000, cacheMaxAge: 600_000 },
    ))

  /** The published key for a token's header; unreachable metadata or JWKS is KeySourceUnreachable. */
  const publishedKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await (
        await remoteKeys()
      )(header, token)
    } catch (error) {
      // No key for this token in a set that was fetched: the token's fault, not Gatehouse's.
      if (
        error instanceof joseErrors.JWKSNoMatchingKey ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys
      )
        throw error
      throw new KeySourceUnreachable()
    }
  }

  const clientAuthorization =
    revocation.mode === 'none'
      ? ''
      : `Basic ${btoa(`${encodeURIComponent(revocation.clientId)}:${encodeURIComponent(revocation.clientSecret)}`)}`
  const introspection: IntrospectionClient | undefined =
    revocation.mode === 'none'
      ? undefined
      : createIntrospectionClient({
          endpoint: async () => (await discover()).introspection_endpoint ?? `${issuer}/introspect`,
          authorization: clientAuthorization,
          fetch: doFetch,
          headers: options.introspectionHeaders,
        })

  // Said once each: a library does not log per request. Through the mode's onError when it has one.
  const said = new Set<string>()
  const sayOnce = (code: string, message: string) => {
    if (said.has(code)) return
    said.add(code)
    const onError = revocation.mode === 'none' ? undefined : revocation.onError
    if (onError) onError(new Error(message))
    else if (typeof globalThis.process?.emitWarning === 'function')
      globalThis.process.emitWarning(message, { code })
    else console.warn(message)
  }

  /**
   * Whether Gatehouse signs with a secret: it publishes no key. A Gatehouse that publishes keys never
   * issues HS* tokens, so an HS* header there is refused without a call (no one can make this service
   * ask Gatehouse about every made-up token); its set is looked at again at most once per cooldown.
   */
  const issuerSignsWithSecret = async (): Promise<boolean> => {
    try {
      const set = await remoteKeys()
      if (!set.fresh || (set.jwks()?.keys.length && !set.coolingDown)) await set.reload()
      return set.jwks()?.keys.length === 0
    } catch {
      throw unreachable()
    }
  }

  /** A token of an HS* Gatehouse: its claims as Gatehouse states them (this service has no secret). */
  const claimsFromGatehouse = async (token: string): Promise<JWTPayload> => {
    if (!(await issuerSignsWithSecret())) throw invalidToken()
    if (!introspection) {
      sayOnce(
        'GATEHOUSE_KIT_CANNOT_VERIFY',
        `Gatehouse at ${issuer} signs tokens with a secret (HS256/384/512) that this service must ` +
          'not hold, and the verifier has no client credentials: its tokens are answered 503. Use ' +
          "revocation mode 'introspect' or 'events' with a confidential client, or an asymmetric " +
          'ALGORITHM (EdDSA) at Gatehouse.',
      )
      throw cannotVerify()
    }
    sayOnce(
      'GATEHOUSE_KIT_INTROSPECTION',
      `Gatehouse at ${issuer} signs tokens with a secret (HS256/384/512) that this service does not ` +
        'hold: they are verified by introspection, one call per token every few seconds. An ' +
        'asymmetric ALGORITHM (EdDSA) at Gatehouse lets them be verified here, with no call.',
    )
    const cacheSeconds =
      revocation.mode === 'introspect'
        ? (revocation.cacheSeconds ?? SYMMETRIC_CACHE_SECONDS)
        : SYMMETRIC_CACHE_SECONDS
    const claims = await introspection.askCached(token, cacheSeconds)
    if (claims === null || claims.iss !== issuer) throw invalidToken()
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? [])
    if (!Array.isArray(audiences) || !audiences.includes(audience)) throw invalidToken()
    // A cached answer must not outlive the token.
    if (typeof claims.exp !== 'number' || claims.exp + clockTolerance <= Date.now() / 1000)
      throw invalidToken('Token has expired')
    return claims
  }

  /** A token signed with a published key: its claims, checked here. */
  const claimsFromSignature = async (token: string): Promise<JWTPayload> => {
    try {
      const verified = await jwtVerify(token, publishedKey, {
        algorithms: ASYMMETRIC,
        issuer,
        audience,
        typ: 'at+jwt',
        clockTolerance,
        requiredClaims: ['sub', 'exp', 'iat'],
      })
      return verified.payload
    } catch (error) {
      if (error instanceof KeySourceUnreachable) throw unreachable()
      if (error instanceof joseErrors.JWTExpired) throw invalidToken('Token has expired')
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw invalidToken()
      throw unreachable()
    }
  }

  const signedWithSecret = (token: string): boolean => {
    let algorithm: unknown
    try {
      algorithm = decodeProtectedHeader(token).alg
    } catch {
      throw invalidToken()
    }
    return typeof algorithm === 'string' && SYMMETRIC.includes(algorithm)
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
        const current = await stream.recheck(token, claims.sub, verdict.changedAt, async () => {
          const live = await introspection!.ask(token)
          return live && scopesOf(live)
        })
        if (current === null) throw invalidToken()
        return current
      }
    }
  }

  function verify(
    token: string,
    requiredScopes?: readonly string[],
    access?: AccessOptions & { allowClients?: false },
  ): Promise<UserPrincipal>
  function verify(
    token: string,
    requiredScopes: readonly string[] | undefined,
    access: AccessOptions,
  ): Promise<GatehousePrincipal>
  async function verify(
    token: string,
    requiredScopes: readonly string[] = [],
    access: AccessOptions = {},
  ): Promise<GatehousePrincipal> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalidToken()
    const symmetric = signedWithSecret(token)
    const claims = symmetric ? await claimsFromGatehouse(token) : await claimsFromSignature(token)
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
    // A client's token stands for no user: a route that serves users' data must not take it for one.
    if (clientToken && access.allowClients !== true) throw invalidToken()
    let scopes = scopesOf(claims)
    if (revocation.mode === 'introspect' && !symmetric) {
      const live = await introspection!.askCached(token, revocation.cacheSeconds ?? 5)
      if (live === null) throw invalidToken()
      scopes = scopesOf(live)
    }
    // A client's own token has no session to end: trusted until it expires (or, HS*, as introspected).
    else if (events && !clientToken)
      scopes = await scopesFromEvents(events, token, { sub, sid: sid as string, iat }, scopes)
    const missing = requiredScopes.filter((name) => !scopes.includes(name))
    if (missing.length > 0) throw insufficientScope(requiredScopes)
    const principal: GatehousePrincipal = clientToken
      ? { username: null, subject: sub, scopes, session: null, client: sub, claims }
      : {
          username: sub,
          subject: sub,
          scopes,
          session: sid as string,
          client: typeof clientId === 'string' ? clientId : null,
          claims,
        }
    return Object.freeze(principal)
  }

  function authenticate(
    authorization: string | undefined,
    requiredScopes?: readonly string[],
    access?: AccessOptions & { allowClients?: false },
  ): Promise<UserPrincipal>
  function authenticate(
    authorization: string | undefined,
    requiredScopes: readonly string[] | undefined,
    access: AccessOptions,
  ): Promise<GatehousePrincipal>
  async function authenticate(
    authorization: string | undefined,
    requiredScopes?: readonly string[],
    access: AccessOptions = {},
  ): Promise<GatehousePrincipal> {
    const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')
    if (!match) throw notAuthenticated()
    return verify(match[1]!, requiredScopes, access)
  }

  return {
    verify,
    authenticate,
    status: () =>
      events?.status() ?? { mode: revocation.mode === 'introspect' ? 'introspect' : 'none' },
    close: async () => {
      await events?.close()
    },
  }
}
