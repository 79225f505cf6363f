// The OAuth2 endpoints that take forms: POST /token (RFC 6749 §3.2, dispatched to the grant
// registry), POST /revoke (RFC 7009) and POST /introspect (RFC 7662), each authenticating the
// client it names. Own plugin scope so that only form bodies are parsed here; never cached (§5.1).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { InvalidCredentials, InvalidGrant } from '../../errors.js'
import { requiredParameter, type GrantRegistry, type GrantServices } from '../../grants/index.js'
import type { Introspect } from '../../services/introspection/introspection.js'
import { clientOf, presentedClientOf } from '../client.js'
import { acceptOnlyForms, FORM_CONTENT_TYPE } from '../form-body.js'
import {
  ErrorSchema,
  MfaRequiredSchema,
  IntrospectFormSchema,
  IntrospectionSchema,
  RevokeFormSchema,
  TokenResponseSchema,
} from '../schemas.js'

/** `services`: the use-cases the grants call, which include the sessions and clients used here. */
export function tokenRoutes(
  services: GrantServices & { grants: GrantRegistry; introspect: Introspect },
) {
  const { grants, sessions, clients, introspect } = services
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
    acceptOnlyForms(app)
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache')
    })

    app.post(
      '/token',
      {
        config: { oauthTokenEndpoint: true },
        schema: {
          summary: 'Get an access token (OAuth2 token endpoint)',
          description: `OAuth2 token endpoint (RFC 6749 §3.2). Answers a bearer access token (a signed JWT) and, for a user's session, a new single-use refresh token. The \`grant_type\`s:\n\n${grants.description}`,
          tags: ['auth'],
          consumes: [FORM_CONTENT_TYPE],
          body: grants.formSchema,
          response: {
            200: TokenResponseSchema,
            400: ErrorSchema,
            401: ErrorSchema,
            403: MfaRequiredSchema,
            429: ErrorSchema,
            503: ErrorSchema,
          },
        },
      },
      async (request) => {
        const form = request.body
        const grant = grants.get(form.grant_type || grants.defaultType)
        const client = clientOf(request)
        // Which clients the grant admits is its own rule, which the clients use-case applies.
        const oauthClient = await clients.admitTokenRequest(
          presentedClientOf(request),
          grant.type,
          client.ip,
        )
        try {
          return await grant.exchange({ form, client, oauthClient }, services)
        } catch (error) {
          // A registered client speaks RFC 6749 §5.2 (OAuth libraries read a 401 with a Bearer
          // challenge as "authenticate to the token endpoint"); anonymous callers keep the tutorial's 401.
          if (oauthClient && error instanceof InvalidCredentials)
            throw new InvalidGrant(error.message, { cause: error })
          throw error
        }
      },
    )

    app.post(
      '/revoke',
      {
        schema: {
          summary: 'Revoke a token (RFC 7009)',
          description:
            'Ends the session of a refresh or access token. Answers 200 also for unknown or already invalid tokens.',
          tags: ['auth'],
          consumes: [FORM_CONTENT_TYPE],
          body: RevokeFormSchema,
          response: {
            200: { description: 'Revoked (or nothing to revoke); the body is empty' },
            400: ErrorSchema,
          },
        },
      },
      async (request, reply) => {
        await clients.admitRevocation(presentedClientOf(request), request.ip)
        await sessions.revokeToken(requiredParameter(request.body, 'token'))
        return reply.code(200).send()
      },
    )

    app.post(
      '/introspect',
      {
        config: { oauthTokenEndpoint: true },
        schema: {
          summary: 'Introspect a token (RFC 7662), for confidential clients',
          description:
            'Whether an access or refresh token is live now (its session, user and scopes as they are at this moment), and what it stands for. The caller authenticates as a registered confidential client (HTTP Basic or `client_id` + `client_secret`). A refresh token is described only to the client it was issued to. Anything that is not a live token answers `{"active": false}`.',
          tags: ['auth'],
          consumes: [FORM_CONTENT_TYPE],
          body: IntrospectFormSchema,
          response: {
            200: IntrospectionSchema,
            400: ErrorSchema,
            401: ErrorSchema,
            429: ErrorSchema,
          },
        },
      },
      async (request) => {
        const caller = await clients.requireResourceServer(presentedClientOf(request), request.ip)
        const hint = request.body.token_type_hint
        return introspect(requiredParameter(request.body, 'token'), hint, caller.id)
      },
    )
  }
}
