// Account recovery by e-mail: POST /password-reset (ask for a link), POST /password-reset/confirm
// (set a password with it), POST /verify-email and POST /users/me/email/verification (a new link for
// the current user). Served only while mail is enabled (SMTP_URL, or the development log outside
// production).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { InvalidInput } from '../../errors.js'
import type { Recovery } from '../../services/recovery/recovery.js'
import { clientOf, holderOf } from '../client.js'
import { ErrorSchema } from '../schemas.js'

const Token = Type.String({ minLength: 1, maxLength: 200, description: 'The token of the link' })

const ResetRequestSchema = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 150 })),
  },
  { description: 'Either the address or the username of the account' },
)
const ResetConfirmSchema = Type.Object({
  token: Token,
  new_password: Type.String({ minLength: 1, maxLength: 4_096, format: 'password' }),
})
const VerifyEmailSchema = Type.Object({ token: Token })
const AcceptedSchema = Type.Object({ detail: Type.String() })

/** The one answer to every reset request that is not throttled. */
const ACCEPTED = {
  detail: 'If an account with that address or username exists, a reset link is on its way to it',
}

export function recoveryRoutes(recovery: Recovery) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

    app.post(
      '/password-reset',
      {
        schema: {
          summary: 'Ask for a password reset link by e-mail',
          description:
            'Always 202 with the same body, after the same time, whether or not the account exists, is disabled or has an address. The link `<ISSUER>/reset-password?token=...` is valid PASSWORD_RESET_MINUTES (30) and once. Throttled per client address and per account.',
          tags: ['recovery'],
          body: ResetRequestSchema,
          response: { 202: AcceptedSchema, 400: ErrorSchema, 429: ErrorSchema },
        },
      },
      async (request, reply) => {
        const { email, username } = request.body
        if ((email === undefined) === (username === undefined))
          throw new InvalidInput('Give either "email" or "username"')
        await recovery.requestReset(
          email !== undefined ? { email } : { username: username! },
          clientOf(request),
        )
        return reply.code(202).send(ACCEPTED)
      },
    )

    app.post(
      '/password-reset/confirm',
      {
        schema: {
          summary: 'Set a new password with a reset link',
          description:
            'The password policy applies. Ends every session of the user and voids their other reset links. An unknown, used or expired token gets 400.',
          tags: ['recovery'],
          body: ResetConfirmSchema,
          response: { 204: { type: 'null', description: 'Changed' }, 400: ErrorSchema },
        },
      },
      async (request, reply) => {
        await recovery.confirmReset(
          request.body.token,
          request.body.new_password,
          clientOf(request),
        )
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/verify-email',
      {
        schema: {
          summary: 'Confirm an e-mail address with the link sent to it',
          description:
            'Links are sent at registration and whenever the address changes; valid 24 hours and once.',
          tags: ['recovery'],
          body: VerifyEmailSchema,
          response: { 204: { type: 'null', description: 'Verified' }, 400: ErrorSchema },
        },
      },
      async (request, reply) => {
        await recovery.verifyEmail(request.body.token, clientOf(request))
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/users/me/email/verification',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'Send me a new verification link',
          description:
            "To the current user's own unverified address; earlier links stop working. Throttled like reset requests.",
          tags: ['recovery'],
          response: {
            202: AcceptedSchema,
            400: ErrorSchema,
            429: ErrorSchema,
          },
        },
      },
      async (request, reply) => {
        await recovery.resendVerification(holderOf(request))
        return reply.code(202).send({ detail: 'A verification link is on its way' })
      },
    )
  }
}
