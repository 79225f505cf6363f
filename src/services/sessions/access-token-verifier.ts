// Access-token verification for every caller (protected routes, RFC 7009 revocation). A token that
// names a signing key rotated in moments ago on another instance, or the issuer of an instance that
// joined since, is verified after one reload of what this instance knows, not refused.
import { InvalidToken, type TokenMismatch } from '../../errors.js'
import type { AccessTokenClaims, TokenService } from '../../security/tokens.js'

/** Re-reads what a refused token might need; true when something changed (then it is tried again). */
export type ReloadFor = (mismatch: TokenMismatch) => Promise<boolean>

export function createAccessTokenVerifier(
  tokens: Pick<TokenService, 'verify'>,
  reloadFor: ReloadFor,
): (token: string) => Promise<AccessTokenClaims> {
  return async (token) => {
    try {
      return tokens.verify(token)
    } catch (error) {
      if (error instanceof InvalidToken && error.mismatch && (await reloadFor(error.mismatch))) {
        return tokens.verify(token)
      }
      throw error
    }
  }
}
