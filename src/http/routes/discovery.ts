// Discovery: the public signing keys (GET /.well-known/jwks.json) and RFC 8414 authorization server
// metadata. Every URL is built from the configured ISSUER, never from the request's Host header.
import type { FastifyInstance } from 'fastify'
import type { KeyManager } from '../../services/keys/signing-keys.js'

export interface DiscoveryDeps {
  issuer: string
  keys: KeyManager
  scopes: readonly string[]
  /** The registered grants' `grant_type` values. */
  grantTypes: readonly string[]
}

export function discoveryRoutes(deps: DiscoveryDeps) {
  const { issuer, keys } = deps
  const CLIENT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post']
  const metadata = {
    issuer,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: deps.grantTypes,
    response_types_supported: [],
    scopes_supported: deps.scopes,
    // 'none': public clients (and, without REQUIRE_CLIENT, requests naming no client at all).
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  }
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/.well-known/jwks.json',
      { schema: { summary: 'Public keys that verify access tokens', tags: ['discovery'] } },
      async (_request, reply) => {
        return reply.header('Cache-Control', 'public, max-age=300').send(keys.jwks())
      },
    )
    app.get(
      '/.well-known/oauth-authorization-server',
      { schema: { summary: 'Authorization server metadata (RFC 8414)', tags: ['discovery'] } },
      async () => metadata,
    )
  }
}
