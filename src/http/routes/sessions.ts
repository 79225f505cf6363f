// Ending sessions: POST /logout (this session), the current user's session list, ending one, and
// "log out everywhere". Ending a session revokes its refresh tokens and its access tokens at once.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Sessions } from '../../services/sessions/sessions.js'
import { holderOf } from '../client.js'
import { NoContent, SessionSchema } from '../schemas.js'

export function sessionRoutes(sessions: Sessions) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

    app.post(
      '/logout',
      {
        onRequest: app.authenticate,
        schema: {
          summary: 'Log out',
          description: 'Ends this session: its refresh token and this access token stop working.',
          tags: ['auth'],
          response: NoContent,
        },
      },
      async (request, reply) => {
        await sessions.logout(holderOf(request), request.auth.sessionId)
        return reply.code(204).send(null)
      },
    )

    app.get(
      '/users/me/sessions',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'My active sessions',
          tags: ['users'],
          response: { 200: Type.Array(SessionSchema) },
        },
      },
      async (request) => sessions.list(request.auth.userId, request.auth.sessionId),
    )

    app.delete(
      '/users/me/sessions/:id',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'End one of my sessions',
          tags: ['users'],
          params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
          response: NoContent,
        },
      },
      async (request, reply) => {
        await sessions.endOne(holderOf(request), request.params.id)
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/users/me/sessions/revoke-all',
      {
        onRequest: app.requireScopes('me'),
        schema: {
          summary: 'Log out everywhere',
          description: 'Ends every session of the user, this one included.',
          tags: ['users'],
          response: NoContent,
        },
      },
      async (request, reply) => {
        await sessions.endAll(holderOf(request))
        return reply.code(204).send(null)
      },
    )
  }
}
