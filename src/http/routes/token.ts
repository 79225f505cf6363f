// The OAuth2 endpoints that take forms: POST /token (RFC 6749 §3.2, dispatched to the grant
// registry) and POST /revoke (RFC 7009). Own plugin scope so that only form bodies are parsed here;
// answers are never cached (§5.1).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { requiredParameter, type GrantRegistry } from '../../grants/index.js'
import type { Sessions } from '../../services/sessions.js'
import { clientOf } from '../client.js'
import { acceptOnlyForms, FORM_CONTENT_TYPE } from '../form-body.js'
import {
  ErrorSchema,
  MfaRequiredSchema,
  RevokeFormSchema,
  TokenFormSchema,
  TokenResponseSchema,
} from '../schemas.js'

export function tokenRoutes({ grants, sessions }: { grants: GrantRegistry; sessions: Sessions }) {
  const grantList = grants.all.map((grant) => `- ${grant.summary}`).join('\n')
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
          summary: 'Log in with username and password, or refresh',
          description: `OAuth2 token endpoint. Answers a bearer access token (a signed JWT) and a new single-use refresh token.\n\n${grantList}`,
          tags: ['auth'],
          consumes: [FORM_CONTENT_TYPE],
          body: TokenFormSchema,
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
        return grants.get(form.grant_type || 'password').exchange(form, clientOf(request))
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
        await sessions.revokeToken(requiredParameter(request.body, 'token'))
        return reply.code(200).send()
      },
    )
  }
}
