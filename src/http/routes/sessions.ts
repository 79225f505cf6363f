// Ending sessions: POST /logout (this session), the current user's session list, ending one, and
// "log out everywhere". Ending a session revokes its refresh tokens and its access tokens at once.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { SecurityEvents } from '../../services/security-events.js'
import type { Sessions } from '../../services/sessions.js'
import { SessionSchema } from '../schemas.js'
import { clientOf } from './token.js'

const NO_CONTENT = { 204: { type: 'null', description: 'Done' } }

export function sessionRoutes(sessions: Sessions, events: SecurityEvents) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
    const audited = (
      request: FastifyRequest,
      type: 'logout' | 'session_revoked',
      outcome: string,
    ) => events({ type, outcome, username: request.user.username, ...clientOf(request) })

    app.post(
      '/logout',
      {
        onRequest: app.authenticate,
        schema: {
          summary: 'Log out',
          description: 'Ends this session: its refresh token and this access token stop working.',
          tags: ['auth'],
          response: NO_CONTENT,
        },
      },
      async (request, reply) => {
        await sessions.end(request.auth.userId, request.auth.sessionId)
        await audited(request, 'logout', 'success')
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
          response: NO_CONTENT,
        },
      },
      async (request, reply) => {
        await sessions.end(request.auth.userId, request.params.id)
        await audited(request, 'session_revoked', 'one')
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
          response: NO_CONTENT,
        },
      },
      async (request, reply) => {
        await sessions.endAll(request.auth.userId)
        await audited(request, 'session_revoked', 'all')
        return reply.code(204).send(null)
      },
    )
  }
}
