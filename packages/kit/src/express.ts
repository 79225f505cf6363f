// The kit's Express adapter: `requireScopes(verifier, ...scopes)` is a middleware that puts the
// token's principal on `req.principal` or answers as Gatehouse does (401/403/503, `{"detail"}`, RFC 6750
// challenge). Users' tokens only, unless the route ends its scopes with `{ allowClients: true }`.
// Only Express's types are imported.
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { readScopeArguments, type ScopeArguments } from './route-access.js'
import {
  BearerError,
  type AccessOptions,
  type GatehousePrincipal,
  type GatehouseVerifier,
} from './verify.js'

export * from './verify.js'

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * Set by requireScopes. Express types every request alike: on a route without `allowClients` it is
     * always a user's (`username` and `session` are strings); narrow with `principal.username !== null`.
     */
    principal?: GatehousePrincipal
  }
}

export function requireScopes(verifier: GatehouseVerifier, ...scopes: string[]): RequestHandler
export function requireScopes(
  verifier: GatehouseVerifier,
  ...args: [...scopes: string[], access: AccessOptions]
): RequestHandler
export function requireScopes(
  verifier: GatehouseVerifier,
  ...args: ScopeArguments
): RequestHandler {
  const { scopes, access } = readScopeArguments(args)
  return (req: Request, res: Response, next: NextFunction) => {
    verifier.authenticate(req.headers.authorization, scopes, access).then(
      (principal) => {
        req.principal = principal
        next()
      },
      (error: unknown) => {
        if (!(error instanceof BearerError)) return next(error)
        if (error.challenge) res.set('WWW-Authenticate', error.challenge)
        res.status(error.status).json(error.body)
      },
    )
  }
}
