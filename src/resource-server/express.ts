// The kit's Express adapter: `requireScopes(verifier, ...scopes)` is a middleware that puts the
// token's principal on `req.principal` or answers as Gatehouse does (401/403, `{"detail"}`, RFC 6750
// challenge). Only Express's types are imported.
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { BearerError, type GatehousePrincipal, type GatehouseVerifier } from './verify.js'

export * from './verify.js'

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by requireScopes. */
    principal?: GatehousePrincipal
  }
}

export function requireScopes(verifier: GatehouseVerifier, ...scopes: string[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    verifier.authenticate(req.headers.authorization, scopes).then(
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
