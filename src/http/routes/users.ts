// The current user's own resources: GET /users/me/, the tutorial's example /users/me/items/, and
// POST /users/me/password. Each is protected by its one `onRequest` line.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { DuplicateUser, IncorrectPassword, RegistrationClosed } from '../../errors.js'
import type { Accounts } from '../../services/accounts.js'
import type { SecurityEvents } from '../../services/security-events.js'
import {
  ErrorSchema,
  ItemSchema,
  PasswordChangeSchema,
  PublicUserSchema,
  RegistrationSchema,
} from '../schemas.js'
import { clientOf } from './token.js'

export interface UserRouteDeps {
  accounts: Accounts
  events: SecurityEvents
  registrationOpen: boolean
}

export function userRoutes({ accounts, events, registrationOpen }: UserRouteDeps) {
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
        if (!registrationOpen) throw new RegistrationClosed()
        const { username, password, email, full_name } = request.body
        const user = await accounts
          .add({ username, password, email, fullName: full_name })
          .catch((error: unknown) => {
            // Which of the two is taken is more than the request itself proves.
            throw error instanceof DuplicateUser ? new DuplicateUser() : error
          })
        await events({
          type: 'registration',
          outcome: 'success',
          username: user.username,
          ...clientOf(request),
        })
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
        const audit = {
          type: 'password_change' as const,
          username: request.user.username,
          ...clientOf(request),
        }
        try {
          await accounts.changePassword(
            request.auth.userId,
            current_password,
            new_password,
            request.auth.sessionId,
          )
        } catch (error) {
          if (error instanceof IncorrectPassword)
            await events({ ...audit, outcome: 'incorrect_password' })
          throw error
        }
        await events({ ...audit, outcome: 'success' })
        return reply.code(204).send(null)
      },
    )
  }
}
