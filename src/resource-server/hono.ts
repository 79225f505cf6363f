// The kit's Hono adapter: `requireScopes(verifier, ...scopes)` is a middleware that sets the token's
// principal as `c.get('principal')` or answers as Gatehouse does (401/403, `{"detail"}`, RFC 6750
// challenge). Only Hono's types are imported.
import type { MiddlewareHandler } from 'hono'
import { BearerError, type GatehousePrincipal, type GatehouseVerifier } from './verify.js'

export * from './verify.js'

export type GatehouseEnv = { Variables: { principal: GatehousePrincipal } }

export function requireScopes(
  verifier: GatehouseVerifier,
  ...scopes: string[]
): MiddlewareHandler<GatehouseEnv> {
  return async (c, next) => {
    let principal: GatehousePrincipal
    try {
      principal = await verifier.authenticate(c.req.header('authorization'), scopes)
    } catch (error) {
      if (!(error instanceof BearerError)) throw error
      const headers: Record<string, string> = error.challenge
        ? { 'WWW-Authenticate': error.challenge }
        : {}
      return c.json(error.body, error.status, headers)
    }
    c.set('principal', principal)
    await next()
  }
}
