// The admin API under /admin, guarded by the `admin` scope: users (list and search, create, read,
// change, delete, reset a password, end sessions) and the audit log. Every change is audited with the
// admin's name.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Accounts } from '../../services/accounts.js'
import { ADMIN_SCOPE } from '../../services/scopes.js'
import type { SecurityEvents } from '../../services/security-events.js'
import type { AuditStore } from '../../store/index.js'
import {
  AdminCreateUserSchema,
  AdminPatchUserSchema,
  AdminUserPageSchema,
  AdminUserSchema,
  AuditEventSchema,
  AuditPageQuerySchema,
  NewPasswordSchema,
  UserPageQuerySchema,
} from '../schemas.js'
import { clientOf } from './token.js'

const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 150 }) })
const NO_CONTENT = { 204: { type: 'null', description: 'Done' } }

export interface AdminRouteDeps {
  accounts: Accounts
  audit: AuditStore
  events: SecurityEvents
}

export function adminRoutes({ accounts, audit, events }: AdminRouteDeps) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
    const onRequest = app.requireScopes(ADMIN_SCOPE)
    const tags = ['admin']
    const audited = (request: FastifyRequest, action: string, target: string) =>
      events({
        type: 'admin',
        outcome: action,
        username: request.user.username,
        ...clientOf(request),
        detail: `user ${target}`,
      })

    app.get(
      '/admin/users',
      {
        onRequest,
        schema: {
          summary: 'List or search users',
          tags,
          querystring: UserPageQuerySchema,
          response: { 200: AdminUserPageSchema },
        },
      },
      async (request) => {
        const { q, limit, offset } = request.query
        return { ...(await accounts.search({ q, limit, offset })), limit, offset }
      },
    )

    app.post(
      '/admin/users',
      {
        onRequest,
        schema: {
          summary: 'Create a user',
          tags,
          body: AdminCreateUserSchema,
          response: { 201: AdminUserSchema },
        },
      },
      async (request, reply) => {
        const { username, password, email, full_name, disabled, scopes } = request.body
        const created = await accounts.add({
          username,
          password,
          email,
          fullName: full_name,
          disabled,
          scopes,
        })
        await audited(request, 'create_user', created.username)
        return reply.code(201).send(await accounts.get(created.username))
      },
    )

    app.get(
      '/admin/users/:username',
      {
        onRequest,
        schema: {
          summary: 'Read a user',
          tags,
          params: UsernameParams,
          response: { 200: AdminUserSchema },
        },
      },
      async (request) => accounts.get(request.params.username),
    )

    app.patch(
      '/admin/users/:username',
      {
        onRequest,
        schema: {
          summary: 'Change a user',
          description:
            'Email, full name, scopes (null: the defaults) and disabled. Disabling ends every session of the user.',
          tags,
          params: UsernameParams,
          body: AdminPatchUserSchema,
          response: { 200: AdminUserSchema },
        },
      },
      async (request) => {
        const { email, full_name, disabled, scopes } = request.body
        const updated = await accounts.update(request.params.username, {
          email,
          fullName: full_name,
          disabled,
          scopes,
        })
        await audited(request, 'update_user', request.params.username)
        return updated
      },
    )

    app.delete(
      '/admin/users/:username',
      {
        onRequest,
        schema: { summary: 'Delete a user', tags, params: UsernameParams, response: NO_CONTENT },
      },
      async (request, reply) => {
        await accounts.remove(request.params.username)
        await audited(request, 'delete_user', request.params.username)
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/admin/users/:username/password',
      {
        onRequest,
        schema: {
          summary: "Reset a user's password",
          description: 'Ends every session of the user.',
          tags,
          params: UsernameParams,
          body: NewPasswordSchema,
          response: NO_CONTENT,
        },
      },
      async (request, reply) => {
        await accounts.setPassword(request.params.username, request.body.password)
        await audited(request, 'reset_password', request.params.username)
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/admin/users/:username/sessions/revoke-all',
      {
        onRequest,
        schema: {
          summary: 'End every session of a user',
          tags,
          params: UsernameParams,
          response: NO_CONTENT,
        },
      },
      async (request, reply) => {
        await accounts.endSessions(request.params.username)
        await audited(request, 'revoke_sessions', request.params.username)
        return reply.code(204).send(null)
      },
    )

    app.get(
      '/admin/audit',
      {
        onRequest,
        schema: {
          summary: 'The audit log, newest first',
          tags,
          querystring: AuditPageQuerySchema,
          response: { 200: Type.Object({ events: Type.Array(AuditEventSchema) }) },
        },
      },
      async (request) => {
        const page = await audit.listAudit({
          limit: request.query.limit,
          before: request.query.before,
        })
        return {
          events: page.map((event) => ({
            id: event.id,
            at: new Date(event.at).toISOString(),
            type: event.type,
            outcome: event.outcome,
            username: event.username,
            ip: event.ip,
            user_agent: event.userAgent,
            detail: event.detail,
          })),
        }
      },
    )
  }
}
