// The kit's Fastify adapter: `requireScopes(verifier, ...scopes)` is an onRequest hook that puts the
// token's principal on `request.principal` or answers as Gatehouse does (401/403, `{"detail"}`, RFC 6750
// challenge); `createGatehouseVerifierFor(app, options)` closes the verifier (its revocation stream)
// with the app. Only Fastify's types are imported.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  BearerError,
  createGatehouseVerifier,
  type GatehousePrincipal,
  type GatehouseVerifier,
  type GatehouseVerifierOptions,
} from './verify.js'

export * from './verify.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by requireScopes. */
    principal?: GatehousePrincipal
  }
}

export function requireScopes(verifier: GatehouseVerifier, ...scopes: string[]) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      request.principal = await verifier.authenticate(request.headers.authorization, scopes)
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
