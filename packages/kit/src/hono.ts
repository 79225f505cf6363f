// The kit's Hono adapter: `requireScopes(verifier, ...scopes)` is a middleware that sets the token's
// principal as `c.get('principal')` or answers as Gatehouse does (401/403/503, `{"detail"}`, RFC 6750
// challenge). Users' tokens only, typed `UserPrincipal`; with `{ allowClients: true }` after the
// scopes, a client's own token too, typed `GatehousePrincipal`. Only Hono's types are imported.
import type { MiddlewareHandler } from 'hono'
import { readScopeArguments, type ScopeArguments } from './route-access.js'
import {
  BearerError,
  type AccessOptions,
  type GatehousePrincipal,
  type GatehouseVerifier,
  type UserPrincipal,
} from './verify.js'

export * from './verify.js'

/**
 * For `new Hono<GatehouseEnv>()`: any principal. Each route's middleware narrows it: a user's on
 * routes without `allowClients`.
 */
export type GatehouseEnv = { Variables: { principal: GatehousePrincipal } }
/** What requireScopes sets on a route that takes users' tokens only. */
export type GatehouseUserEnv = { Variables: { principal: UserPrincipal } }

export function requireScopes(
  verifier: GatehouseVerifier,
  ...scopes: string[]
): MiddlewareHandler<GatehouseUserEnv>
export function requireScopes(
  verifier: GatehouseVerifier,
  ...args: [...scopes: string[], access: AccessOptions & { allowClients?: false }]
): MiddlewareHandler<GatehouseUserEnv>
export function requireScopes(
  verifier: GatehouseVerifier,
  ...args: [...scopes: string[], access: AccessOptions]
): MiddlewareHandler<GatehouseEnv>
export function requireScopes(
  verifier: GatehouseVerifier,
  ...args: ScopeArguments
): MiddlewareHandler<GatehouseEnv> | MiddlewareHandler<GatehouseUserEnv> {
  const { scopes, access } = readScopeArguments(args)
  const middleware: MiddlewareHandler<GatehouseEnv> = async (c, next) => {
    let principal: GatehousePrincipal
    try {
      principal = await verifier.authenticate(c.req.header('authorization'), scopes, access)
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
  return middleware
}
