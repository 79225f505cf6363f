// Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`, `iss`, `aud`, `sub`, `sid`, `scope`)
// signed with an HMAC secret or with an asymmetric key set. Each key verifies only its own algorithm
// (RFC 8725 §3.1: no `none`, no algorithm confusion); `kid` picks the key, and headers such as
// `jku`, `x5u` or `jwk` are never followed. The only module that touches the JWT library; its errors
// become ours here.
import { randomBytes } from 'node:crypto'
import { createDecoder, createSigner, createVerifier, TokenError } from 'fast-jwt'
import { InvalidToken, TokenExpired, UnknownSigningKey } from '../errors.js'

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'
export type AsymmetricAlgorithm = 'RS256' | 'ES256' | 'EdDSA'
export type SigningAlgorithm = HmacAlgorithm | AsymmetricAlgorithm
export const HMAC_ALGORITHMS: readonly HmacAlgorithm[] = ['HS256', 'HS384', 'HS512']
export const ASYMMETRIC_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['RS256', 'ES256', 'EdDSA']

/** Clock skew tolerated on `exp`, `nbf` and `iat`, kept small on purpose. */
export const CLOCK_LEEWAY_SECONDS = 30
/** Longer tokens are refused before any parsing: ours are well under 2 KiB. */
const MAX_TOKEN_LENGTH = 4_096
const ACCESS_TOKEN_TYPE = 'at+jwt'

/** A key as the token service uses it: an HMAC secret, or a PEM key pair half. */
export interface TokenKey {
  /** Absent for the HMAC secret, which is not published. */
  kid?: string
  algorithm: SigningAlgorithm
  /** The HMAC secret, or the PEM private key (signing) / public key (verifying). */
  key: string
}

export interface TokenKeys {
  signing: TokenKey
  /** Every key whose tokens are still accepted, the signing one included. */
  verifying: TokenKey[]
}

export interface AccessTokenClaims {
  sub: string
  /** The session (login) the token belongs to; '' for a client's own token (client_credentials). */
  sid: string
  /** RFC 9068 `client_id`: the registered client the token was issued to, when one was named. */
  clientId?: string
  scope: readonly string[]
  /**
   * RFC 8707 / RFC 9068 `aud`: this service's audience, or the resource server the token was asked
   * for (`resource=`). Only `verify(token, { anyAudience: true })` answers tokens of other audiences.
   */
  aud: readonly string[]
  /** How the user authenticated (RFC 8176), e.g. ['pwd'] or ['pwd', 'otp']; empty when not said. */
  amr: readonly string[]
  exp: number
  iat: number
  jti: string
}

export interface IssuedToken {
  token: string
  expiresIn: number
}

export interface TokenService {
  /**
   * A user's token in a session: `amr` says how the user authenticated (RFC 8176), `clientId` (RFC
   * 9068 `client_id`) which registered client asked, when one did.
   */
  issue(
    subject: string,
    sessionId: string,
    scope: string[],
    extra?: {
      amr?: readonly string[]
      clientId?: string | undefined
      /** A registered resource (RFC 8707) to be its `aud` instead of this service's audience. */
      audience?: string | undefined
    },
  ): IssuedToken
  /**
   * A client_credentials token (RFC 6749 §4.4): the client is its subject and its `client_id`; it has
   * no session (`sid`), which is how every consumer tells it from a user's token.
   */
  issueForClient(clientId: string, scope: readonly string[], audience?: string): IssuedToken
  /**
   * The claims of a valid token; throws TokenExpired, UnknownSigningKey or InvalidToken otherwise. A
   * token whose `aud` is none of this service's (one asked for a resource server) is InvalidToken
   * unless `anyAudience` (introspection and revocation, which serve every audience).
   */
  verify(token: string, options?: VerifyOptions): AccessTokenClaims
  /** Switch to a new key set (after a rotation), keeping the claims policy. */
  setKeys(keys: TokenKeys): void
  /** Accept tokens of these issuers and audiences (this service's own are always accepted). */
  setAccepted(accepted: AcceptedClaims): void
}

export interface VerifyOptions {
  /** Accept a token of any `aud` (this service signed it): for introspection and revocation only. */
  anyAudience?: boolean
}

/** The `iss` and `aud` values verification accepts besides this service's own. */
export interface AcceptedClaims {
  issuers: readonly string[]
  audiences: readonly string[]
}

export interface TokenServiceOptions {
  keys: TokenKeys
  /** `iss` of the tokens this service signs. */
  issuer: string
  /** `aud` of the tokens this service signs. */
  audience: string
  /** More issuers and audiences to accept (instances of one deployment); default none. */
  accepted?: AcceptedClaims
  ttlSeconds: number
  /** Verified tokens remembered (default 10,000). */
  cacheSize?: number
}

type Verify = (token: string) => {
  header: Record<string, unknown>
  payload: Record<string, unknown>
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  const { issuer, audience, ttlSeconds, cacheSize = 10_000 } = options
  const decodeHeader = createDecoder({ complete: true }) as (token: string) => {
    header: Record<string, unknown>
  }
  let sign: (payload: Record<string, unknown>) => string
  let verifiers: Map<string | undefined, Verify>
  /** With a single key without `kid` (the HMAC secret) there is nothing to look up: skip decoding twice. */
  let onlyVerifier: Verify | undefined
  /**
   * Clients send the same token for many requests: verified ones are remembered by their exact text
   * (bounded, oldest out first, never past their `exp`). fast-jwt's own cache keys by a SHA-256 of the
   * token, which costs about 3 µs per request on the hot path. Revocation is unaffected: the session
   * is checked in the store on every request.
   */
  const verified = new Map<string, AccessTokenClaims>()

  let keys = options.keys
  let accepted: AcceptedClaims = options.accepted ?? { issuers: [], audiences: [] }
  let ownAudiences = new Set<string>()

  const build = (): void => {
    const { signing } = keys
    sign = createSigner({
      key: signing.key,
      algorithm: signing.algorithm,
      kid: signing.kid,
      header: { alg: signing.algorithm, typ: ACCESS_TOKEN_TYPE },
      expiresIn: ttlSeconds * 1000,
      iss: issuer,
    })
    const allowedIss = [...new Set([issuer, ...accepted.issuers])]
    ownAudiences = new Set([audience, ...accepted.audiences])
    verifiers = new Map(
      keys.verifying.map((key) => [
        key.kid,
        createVerifier({
          key: key.key,
          // One algorithm per key: a token cannot choose how it is checked.
          algorithms: [key.algorithm],
          complete: true,
          allowedIss,
          // `aud` is checked by verify(): tokens for registered resource servers are ours too.
          requiredClaims: ['sub', 'exp', 'iat', 'iss', 'aud'],
          clockTolerance: CLOCK_LEEWAY_SECONDS * 1000,
        }) as Verify,
      ]),
    )
    onlyVerifier = verifiers.size === 1 ? verifiers.get(undefined) : undefined
    // A retired key's tokens must stop passing at once.
    verified.clear()
  }
  const setKeys = (next: TokenKeys): void => {
    keys = next
    build()
  }
  build()

  const verifierFor = (token: string): Verify => {
    let kid: unknown
    try {
      kid = decodeHeader(token).header.kid
    } catch (error) {
      throw new InvalidToken({ cause: error, reason: mismatchedClaim(error) })
    }
    const verify = kid === undefined || typeof kid === 'string' ? verifiers.get(kid) : undefined
    if (!verify) throw typeof kid === 'string' ? new UnknownSigningKey() : new InvalidToken()
    return verify
  }

  /** Full verification: signature, algorithm, claims and this service's policy. */
  const verifyUncached = (token: string): AccessTokenClaims => {
    const verify = onlyVerifier ?? verifierFor(token)

    let header: Record<string, unknown>
    let claims: Record<string, unknown>
    try {
      ;({ header, payload: claims } = verify(token))
    } catch (error) {
      if (error instanceof TokenError && error.code === TokenError.codes.expired)
        throw new TokenExpired()
      throw new InvalidToken({ cause: error, reason: mismatchedClaim(error) })
    }
    // RFC 9068 §4: an access token says so, which keeps other JWTs (ID tokens, ...) from passing as one.
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : ''
    if (typ !== ACCESS_TOKEN_TYPE && typ !== `application/${ACCESS_TOKEN_TYPE}`)
      throw new InvalidToken()
    const { sub, sid, scope, exp, iat, jti, amr, client_id: clientId, aud } = claims
    const audiences = typeof aud === 'string' ? [aud] : aud
    if (
      !Array.isArray(audiences) ||
      audiences.length === 0 ||
      audiences.length > 8 ||
      !audiences.every((value) => typeof value === 'string')
    )
      throw new InvalidToken()
    // Either a user's token (a session) or a client's own (client_id, no session); never neither.
    const clientToken = sid === undefined && typeof clientId === 'string' && clientId === sub
    if (
      typeof sub !== 'string' ||
      sub === '' ||
      (!clientToken && (typeof sid !== 'string' || sid === '')) ||
      (clientId !== undefined && typeof clientId !== 'string') ||
      typeof exp !== 'number' ||
      typeof iat !== 'number'
    ) {
      throw new InvalidToken()
    }
    if (scope !== undefined && typeof scope !== 'string') throw new InvalidToken()
    if (
      amr !== undefined &&
      !(Array.isArray(amr) && amr.length <= 8 && amr.every((value) => typeof value === 'string'))
    )
      throw new InvalidToken()
    // This service issues tokens with iat = now and exp = iat + the lifetime: one issued in the future,
    // or meant to live longer (exp 1e308), was not made under this policy, whatever signed it.
    if (
      iat > Date.now() / 1000 + CLOCK_LEEWAY_SECONDS ||
      exp - iat > ttlSeconds + CLOCK_LEEWAY_SECONDS
    )
      throw new InvalidToken()
    // Frozen: the same claims answer every request that sends this token.
    const scopes = Object.freeze(scope ? scope.split(' ').filter(Boolean) : [])
    return Object.freeze({
      sub,
      sid: clientToken ? '' : (sid as string),
      ...(typeof clientId === 'string' ? { clientId } : {}),
      scope: scopes,
      aud: Object.freeze([...audiences]),
      amr: Object.freeze(amr === undefined ? [] : [...amr]),
      exp,
      iat,
      jti: typeof jti === 'string' ? jti : '',
    })
  }

  return {
    setKeys,
    setAccepted(next) {
      accepted = next
      build()
    },
    issue(subject, sessionId, scope, { amr, clientId, audience: resource } = {}) {
      const token = sign({
        aud: resource ?? audience,
        sub: subject,
        sid: sessionId,
        scope: scope.join(' '),
        ...(amr?.length ? { amr: [...amr] } : {}),
        jti: randomBytes(16).toString('base64url'),
        ...(clientId === undefined ? {} : { client_id: clientId }),
      })
      return { token, expiresIn: ttlSeconds }
    },
    issueForClient(clientId, scope, resource) {
      const token = sign({
        aud: resource ?? audience,
        sub: clientId,
        client_id: clientId,
        scope: scope.join(' '),
        jti: randomBytes(16).toString('base64url'),
      })
      return { token, expiresIn: ttlSeconds }
    },
    verify(token, { anyAudience = false } = {}) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidToken()
      let claims = verified.get(token)
      if (claims !== undefined) {
        if (Date.now() > (claims.exp + CLOCK_LEEWAY_SECONDS) * 1000) {
          verified.delete(token)
          throw new TokenExpired()
        }
      } else {
        claims = verifyUncached(token)
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!)
        verified.set(token, claims)
      }
      // A token asked for a resource server (RFC 8707) is for that server, not for this service's
      // routes; one of another instance's audience may mean a configuration to reload or report.
      if (!anyAudience && !claims.aud.some((value) => ownAudiences.has(value)))
        throw new InvalidToken({ reason: 'audience' })
      return claims
    },
  }
}

/**
 * fast-jwt checks claims only after the signature: a correctly signed token with another `iss` or
 * `aud` was made by an instance configured differently, which operators must hear about.
 */
function mismatchedClaim(error: unknown): 'issuer' | 'audience' | undefined {
  if (!(error instanceof TokenError) || error.code !== TokenError.codes.invalidClaimValue)
    return undefined
  if (/\biss\b/.test(error.message)) return 'issuer'
  if (/\baud\b/.test(error.message)) return 'audience'
  return undefined
}
