// Access tokens: signing and verifying JWTs (RFC 7519) with an explicit algorithm allow-list, as
// RFC 8725 asks. The only module that touches the JWT library; its errors become ours here.
import { randomBytes } from 'node:crypto'
import { createSigner, createVerifier, TokenError } from 'fast-jwt'
import { InvalidToken, TokenExpired } from '../errors.js'

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'
export const HMAC_ALGORITHMS: readonly HmacAlgorithm[] = ['HS256', 'HS384', 'HS512']

/** Clock skew tolerated on `exp`, `nbf` and `iat`, kept small on purpose. */
export const CLOCK_LEEWAY_SECONDS = 30
/** Longer tokens are refused before any parsing: ours are a few hundred bytes. */
const MAX_TOKEN_LENGTH = 4_096

export interface AccessTokenClaims {
  sub: string
  exp: number
  iat?: number
  jti?: string
}

export interface IssuedToken {
  token: string
  expiresIn: number
}

export interface TokenService {
  issue(subject: string): IssuedToken
  /** Returns the claims of a valid token; throws TokenExpired or InvalidToken otherwise. */
  verify(token: string): AccessTokenClaims
}

export interface TokenServiceOptions {
  secret: string
  algorithm: HmacAlgorithm
  ttlSeconds: number
}

export function createTokenService(options: TokenServiceOptions): TokenService {
  const { secret, algorithm, ttlSeconds } = options
  const sign = createSigner({ key: secret, algorithm, expiresIn: ttlSeconds * 1000 })
  // One algorithm only: a token cannot choose how it is checked (no `none`, no confusion).
  const verifyJwt = createVerifier({
    key: secret,
    algorithms: [algorithm],
    requiredClaims: ['sub', 'exp'],
    clockTolerance: CLOCK_LEEWAY_SECONDS * 1000,
  })

  return {
    issue(subject) {
      return { token: sign({ sub: subject, jti: randomBytes(16).toString('base64url') }), expiresIn: ttlSeconds }
    },
    verify(token) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidToken()
      let claims: Record<string, unknown>
      try {
        claims = verifyJwt(token) as Record<string, unknown>
      } catch (error) {
        if (error instanceof TokenError && error.code === TokenError.codes.expired) throw new TokenExpired()
        throw new InvalidToken({ cause: error })
      }
      if (typeof claims.sub !== 'string' || claims.sub === '' || typeof claims.exp !== 'number') throw new InvalidToken()
      return claims as unknown as AccessTokenClaims
    },
  }
}
