// The kit's Fastify adapter: `requireScopes(verifier, ...scopes)` is an onRequest hook that puts the
// token's principal on `request.principal` or answers as Gatehouse does (401/403/503, `{"detail"}`,
// RFC 6750 challenge); users' tokens only, unless the scopes end with `{ allowClients: true }`.
// `createGatehouseVerifierFor(app, options)` closes the verifier (its revocation stream) with the app.
// Only Fastify's types are imported.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { readScopeArguments, type ScopeArguments } from './route-access.js'
import {
  BearerError,
  createGatehouseVerifier,
  type AccessOptions,
  type GatehousePrincipal,
  type GatehouseVerifier,
  type GatehouseVerifierOptions,
} from './verify.js'

export * from './verify.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by requireScopes. Fastify types every request alike: on a route without `allowClients` it is
     * always a user's (`username` and `session` are strings); narrow with `principal.username !== null`.
     */
    principal?: GatehousePrincipal
  }
}

type OnRequest = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

export function requireScopes(verifier: GatehouseVerifier, ...scopes: string[]): OnRequest
export function requireScopes(
  verifier: GatehouseVerifier,
  ...args: [...scopes: string[], access: AccessOptions]
): OnRequest
export function requireScopes(verifier: GatehouseVerifier, ...args: ScopeArguments): OnRequest {
  const { scopes, access } = readScopeArguments(args)
  return async (request, reply) => {
    try {
      request.principal = await verifier.authenticate(request.headers.authorization, scopes, access)
    } catch (error) {
      if (!(error instanceof BearerError)) throw error
      if (error.challenge) void reply.header('WWW-Authenticate', error.challenge)
      await reply.code(error.status).send(error.body)
    }
  }
}

/** A verifier closed with `app` (onClose), so that `app.close()` also ends its revocation stream. */
export function createGatehouseVerifierFor(
  app: FastifyInstance,
  options: GatehouseVerifierOptions,
): GatehouseVerifier {
  const verifier = createGatehouseVerifier(options)
  app.addHook('onClose', () => verifier.close())
  return verifier
}
