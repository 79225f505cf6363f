// Second factors over HTTP: the signed-in user's TOTP enrolment (start, confirm, remove, status) and
// the admin API's view and reset of a user's factor. Thin: the MFA use-case validates and audits.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Mfa } from '../../services/mfa/mfa.js'
import { ADMIN_SCOPE } from '../../services/scopes/scopes.js'
import { actorOf, holderOf } from '../client.js'
import { NoContent } from '../schemas.js'

const MfaStatusSchema = Type.Object({
  totp: Type.Union([Type.Literal('none'), Type.Literal('pending'), Type.Literal('confirmed')]),
  recovery_codes_left: Type.Integer({ description: 'Unused recovery codes' }),
})

const EnrolmentSchema = Type.Object({
  secret: Type.String({ description: 'Base32 secret, for typing into an authenticator app' }),
  otpauth_uri: Type.String({ description: 'otpauth://totp/... URI (what the QR code holds)' }),
  qr_svg: Type.String({ description: 'The URI as a QR code, an SVG document' }),
})

/** Recent authentication (RFC 9470 step-up): the password again, unless the login is recent. */
const CurrentPassword = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 4_096,
    description:
      'The current password; may be left out when the session logged in within RECENT_AUTH_SECONDS (else 401 `insufficient_user_authentication` with `max_age`)',
  }),
)

const StepUpNote =
  ' Needs recent authentication: `current_password`, or a login within `RECENT_AUTH_SECONDS`; otherwise 401 `insufficient_user_authentication` with `max_age` (RFC 9470).'

const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 150 }) })

export function mfaRoutes({ mfa }: { mfa: Mfa }) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
    const me = app.requireScopes('me')
    const tags = ['users']
    // Secrets and recovery codes are shown once: never kept by a cache.
    const noStore = async (_request: unknown, reply: { header(n: string, v: string): unknown }) => {
      reply.header('Cache-Control', 'no-store')
    }

    app.get(
      '/users/me/mfa',
      {
        onRequest: me,
        schema: { summary: 'My second factors', tags, response: { 200: MfaStatusSchema } },
      },
      async (request) => mfa.status(request.auth.userId),
    )

    app.post(
      '/users/me/mfa/totp',
      {
        onRequest: me,
        onSend: noStore,
        // No body at all (as before step-up existed) is an empty one: a recent login needs nothing.
        preValidation: async (request) => {
          request.body ??= {}
        },
        schema: {
          summary: 'Start a TOTP enrolment',
          description:
            'Answers a new secret, its otpauth:// URI and a QR code; confirm with a first code to activate it.' +
            StepUpNote,
          tags,
          body: Type.Object({ current_password: CurrentPassword }),
          response: { 200: EnrolmentSchema },
        },
      },
      async (request) =>
        mfa.startTotp(holderOf(request), {
          sessionId: request.auth.sessionId,
          currentPassword: request.body.current_password,
        }),
    )

    app.post(
      '/users/me/mfa/totp/confirm',
      {
        onRequest: me,
        onSend: noStore,
        schema: {
          summary: 'Confirm the TOTP enrolment',
          description:
            'Activates the factor and answers 10 single-use recovery codes, shown this once. Ends every other session.' +
            StepUpNote,
          tags,
          body: Type.Object({
            code: Type.String({ minLength: 1, maxLength: 16 }),
            current_password: CurrentPassword,
          }),
          response: {
            200: Type.Object({ recovery_codes: Type.Array(Type.String()) }),
          },
        },
      },
      async (request) =>
        mfa.confirmTotp(
          holderOf(request),
          { sessionId: request.auth.sessionId, currentPassword: request.body.current_password },
          request.body.code,
        ),
    )

    app.delete(
      '/users/me/mfa/totp',
      {
        onRequest: me,
        schema: {
          summary: 'Remove my TOTP factor',
          description:
            'Needs a current code of the factor (`code`: a TOTP code or an unused recovery code) and recent authentication: `current_password` (`password` is its older name), or a login within `RECENT_AUTH_SECONDS`; otherwise 401 `insufficient_user_authentication` with `max_age` (RFC 9470). Removes the recovery codes; ends every other session.',
          tags,
          body: Type.Object({
            code: Type.String({
              minLength: 1,
              maxLength: 64,
              description: 'A current TOTP code or an unused recovery code',
            }),
            current_password: CurrentPassword,
            password: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 4_096,
                description: 'Deprecated: current_password',
              }),
            ),
          }),
          response: NoContent,
        },
      },
      async (request, reply) => {
        const { code, current_password, password } = request.body
        await mfa.removeTotp(
          holderOf(request),
          { sessionId: request.auth.sessionId, currentPassword: current_password ?? password },
          code,
        )
        return reply.code(204).send(null)
      },
    )

    const admin = app.requireScopes(ADMIN_SCOPE)
    app.get(
      '/admin/users/:username/mfa',
      {
        onRequest: admin,
        schema: {
          summary: "A user's second factors",
          tags: ['admin'],
          params: UsernameParams,
          response: { 200: MfaStatusSchema },
        },
      },
      async (request) => mfa.statusOf(request.params.username),
    )

    app.post(
      '/admin/users/:username/mfa/reset',
      {
        onRequest: admin,
        schema: {
          summary: "Reset a user's second factors",
          description:
            'For a user who lost their authenticator and recovery codes: removes both and ends their sessions.',
          tags: ['admin'],
          params: UsernameParams,
          response: NoContent,
        },
      },
      async (request, reply) => {
        await mfa.reset(request.params.username, actorOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
