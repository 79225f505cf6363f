// Access-token verification for every caller (protected routes, RFC 7009 revocation). A token that
// names a signing key rotated in moments ago on another instance, or the issuer of an instance that
// joined since, is verified after one reload of what this instance knows, not refused.
import { InvalidToken, type TokenMismatch } from '../../errors.js'
import type { AccessTokenClaims, TokenService, VerifyOptions } from '../../security/tokens.js'

/** Re-reads what a refused token might need; true when something changed (then it is tried again). */
export type ReloadFor = (mismatch: TokenMismatch) => Promise<boolean>

/** By default only tokens of this service's own audience; `anyAudience` for those of resource servers too. */
export type VerifyAccessToken = (
  token: string,
  options?: VerifyOptions,
) => Promise<AccessTokenClaims>

export function createAccessTokenVerifier(
  tokens: Pick<TokenService, 'verify'>,
  reloadFor: ReloadFor,
): VerifyAccessToken {
  return async (token, options) => {
    try {
      return tokens.verify(token, options)
    } catch (error) {
      if (error instanceof InvalidToken && error.mismatch && (await reloadFor(error.mismatch))) {
        return tokens.verify(token, options)
      }
      throw error
    }
  }
}
