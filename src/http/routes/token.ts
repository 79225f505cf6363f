// POST /token: the OAuth2 token endpoint for the resource owner password grant (RFC 6749 §4.3).
// Own plugin scope so that only form bodies are parsed here; answers are never cached (§5.1).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { InvalidRequest, UnsupportedGrantType } from '../../errors.js'
import type { TokenService } from '../../security/tokens.js'
import type { PasswordLogin } from '../../services/password-login.js'
import { acceptOnlyForms, FORM_CONTENT_TYPE } from '../form-body.js'
import { ErrorSchema, TokenFormSchema, TokenResponseSchema, type TokenForm } from '../schemas.js'

/** Where the token endpoint lives; the OpenAPI document's tokenUrl points here. */
export const TOKEN_PATH = '/token'

export interface TokenRouteDeps {
  login: PasswordLogin
  tokens: TokenService
}

export function tokenRoutes(deps: TokenRouteDeps) {
  return async function (app: FastifyInstance): Promise<void> {
    acceptOnlyForms(app)
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache')
    })

    app.withTypeProvider<TypeBoxTypeProvider>().post(
      TOKEN_PATH,
      {
        config: { oauthTokenEndpoint: true },
        schema: {
          summary: 'Log in with username and password',
          description: 'OAuth2 password grant: answers a bearer access token (a signed JWT).',
          tags: ['auth'],
          consumes: [FORM_CONTENT_TYPE],
          body: TokenFormSchema,
          response: { 200: TokenResponseSchema, 400: ErrorSchema, 401: ErrorSchema, 503: ErrorSchema },
        },
      },
      async (request) => {
        const { username, password } = readPasswordGrant(request.body)
        const user = await deps.login(username, password)
        const issued = deps.tokens.issue(user.username)
        return { access_token: issued.token, token_type: 'bearer' as const, expires_in: issued.expiresIn }
      },
    )
  }
}

/** Checks in protocol order: the grant type first, then its required parameters. */
function readPasswordGrant(form: TokenForm): { username: string; password: string } {
  if (form.grant_type && form.grant_type !== 'password') throw new UnsupportedGrantType(form.grant_type)
  if (!form.username) throw new InvalidRequest("Missing required parameter 'username'")
  if (!form.password) throw new InvalidRequest("Missing required parameter 'password'")
  return { username: form.username, password: form.password }
}
