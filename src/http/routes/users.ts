// The current user's own resources: GET and PATCH /users/me/, the tutorial's example
// /users/me/items/, and POST /users/me/password. Each is protected by its one `onRequest` line.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Accounts } from '../../services/accounts/accounts.js'
import { clientOf, holderOf } from '../client.js'
import {
  ErrorSchema,
  ItemSchema,
  PasswordChangeSchema,
  ProfileChangeSchema,
  PublicUserSchema,
  RegistrationSchema,
} from '../schemas.js'

/** What a request naming `email` is told, whatever became of the address. */
export const ADDRESS_CHANGE_ANSWER =
  'Your request was taken; a message to the address says what happens next'

export function userRoutes(accounts: Accounts) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

    app.post(
      '/users',
      {
        schema: {
          summary: 'Create an account (when REGISTRATION=open)',
          description:
            'The password must follow the password policy. A taken username or email gets 409 without saying which.',
          tags: ['users'],
          body: RegistrationSchema,
          response: { 201: PublicUserSchema, 400: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema },
        },
      },
      async (request, reply) => {
        const { username, password, email, full_name } = request.body
        const user = await accounts.register(
          { username, password, email, fullName: full_name },
          clientOf(request),
        )
        return reply.code(201).send(user)
      },
    )

    app.get(
      '/users/me/',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'The current user',
          tags: ['users'],
          response: { 200: PublicUserSchema },
        },
      },
      async (request) => request.user,
    )

    app.patch(
      '/users/me/',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'Change my e-mail address or full name',
          description:
            'Absent fields stay, null or empty ones are cleared. A request naming `email` needs recent authentication, since reset links go there: `current_password`, or a login within `RECENT_AUTH_SECONDS` (else 401 `insufficient_user_authentication` with `max_age`, RFC 9470). It is answered 202 whether or not the address could be taken: the mail says what happened (a verification link to the new address and a notice to the old one, or a notice to the owner of an address another account has). Throttled per user.',
          tags: ['users'],
          body: ProfileChangeSchema,
          response: {
            200: PublicUserSchema,
            202: ErrorSchema,
            400: ErrorSchema,
            401: ErrorSchema,
            429: ErrorSchema,
          },
        },
      },
      async (request, reply) => {
        const { email, full_name, current_password } = request.body
        const user = await accounts.updateOwnProfile(
          holderOf(request),
          { email, fullName: full_name, currentPassword: current_password },
          request.auth.sessionId,
        )
        // The same answer for a free and a taken address: no oracle of who is registered.
        if (email !== undefined) return reply.code(202).send({ detail: ADDRESS_CHANGE_ANSWER })
        return user
      },
    )

    app.get(
      '/users/me/items/',
      {
        onRequest: app.requireScopes('items'),
        schema: {
          summary: "The current user's items",
          tags: ['users'],
          response: { 200: Type.Array(ItemSchema) },
        },
      },
      async (request) => [{ item_id: 'Foo', owner: request.user.username }],
    )

    app.post(
      '/users/me/password',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'Change my password',
          description:
            'Needs the current password. Ends every other session of the user; this one stays.',
          tags: ['users'],
          body: PasswordChangeSchema,
          response: { 204: { type: 'null', description: 'Changed' } },
        },
      },
      async (request, reply) => {
        const { current_password, new_password } = request.body
        await accounts.changePassword(
          holderOf(request),
          current_password,
          new_password,
          request.auth.sessionId,
        )
        return reply.code(204).send(null)
      },
    )
  }
}
