// The OAuth2 endpoints that take forms: POST /token (RFC 6749 §4.3 password grant, §6 refresh grant)
// and POST /revoke (RFC 7009). Own plugin scope so that only form bodies are parsed here; answers
// are never cached (§5.1).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  InactiveUser,
  InvalidCredentials,
  InvalidRequest,
  InvalidScope,
  Overloaded,
  Throttled,
  ThrottleUnavailable,
  UnsupportedGrantType,
} from '../../errors.js'
import type { PasswordLogin } from '../../services/password-login.js'
import type { SecurityEvents } from '../../services/security-events.js'
import type { ClientInfo, Sessions } from '../../services/sessions.js'
import { acceptOnlyForms, FORM_CONTENT_TYPE } from '../form-body.js'
import { ErrorSchema, RevokeFormSchema, TokenFormSchema, TokenResponseSchema } from '../schemas.js'

export interface TokenRouteDeps {
  login: PasswordLogin
  sessions: Sessions
  /** Every password grant's outcome is reported (audit log, metrics). */
  events: SecurityEvents
}

export function tokenRoutes(deps: TokenRouteDeps) {
  const { login, sessions } = deps
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
          description:
            'OAuth2 token endpoint. `grant_type=password` (the default) with `username` and `password`, or ' +
            '`grant_type=refresh_token` with `refresh_token`: answers a bearer access token (a signed JWT) and a new ' +
            'single-use refresh token. Presenting a refresh token twice ends its session.',
          tags: ['auth'],
          consumes: [FORM_CONTENT_TYPE],
          body: TokenFormSchema,
          response: {
            200: TokenResponseSchema,
            400: ErrorSchema,
            401: ErrorSchema,
            429: ErrorSchema,
            503: ErrorSchema,
          },
        },
      },
      async (request) => {
        const form = request.body
        const grantType = form.grant_type || 'password'
        const client = clientOf(request)
        if (grantType === 'refresh_token')
          return sessions.refresh(required(form, 'refresh_token'), form.scope, client)
        if (grantType !== 'password') throw new UnsupportedGrantType(grantType)
        const username = required(form, 'username')
        try {
          const user = await login(username, required(form, 'password'), request.ip)
          const response = await sessions.start(user, form.scope, client)
          await deps.events({ type: 'login', outcome: 'success', username, ...client })
          return response
        } catch (error) {
          await deps.events({ type: 'login', outcome: loginOutcome(error), username, ...client })
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
            200: { type: 'null', description: 'Revoked (or nothing to revoke)' },
            400: ErrorSchema,
          },
        },
      },
      async (request, reply) => {
        await sessions.revokeToken(required(request.body, 'token'))
        return reply.code(200).send(null)
      },
    )
  }
}

function loginOutcome(error: unknown): string {
  if (error instanceof InvalidCredentials) return 'bad_credentials'
  if (error instanceof InactiveUser) return 'inactive'
  if (error instanceof Throttled) return 'throttled'
  if (error instanceof Overloaded || error instanceof ThrottleUnavailable) return 'overloaded'
  if (error instanceof InvalidRequest || error instanceof InvalidScope) return 'invalid_request'
  return 'error'
}

function required<Form extends Record<string, unknown>>(
  form: Form,
  name: keyof Form & string,
): string {
  const value = form[name]
  if (typeof value !== 'string' || value === '')
    throw new InvalidRequest(`Missing required parameter '${name}'`)
  return value
}

export function clientOf(request: FastifyRequest): ClientInfo {
  return { userAgent: request.headers['user-agent'] ?? null, ip: request.ip }
}
