// The admin API under /admin, guarded by the `admin` scope: users (list and search, create, read,
// change, delete, reset a password, end sessions) and the audit log. Every change is audited, with
// the admin's name, by the accounts use-case.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Accounts } from '../../services/accounts/accounts.js'
import type { AuditLog } from '../../services/audit/audit-log.js'
import { ADMIN_SCOPE } from '../../services/scopes/scopes.js'
import { actorOf } from '../client.js'
import {
  AdminCreateUserSchema,
  AdminPatchUserSchema,
  AdminUserPageSchema,
  AdminUserSchema,
  AuditEventSchema,
  AuditPageQuerySchema,
  NewPasswordSchema,
  NoContent,
  UserPageQuerySchema,
} from '../schemas.js'

const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 150 }) })

export function adminRoutes({ accounts, auditLog }: { accounts: Accounts; auditLog: AuditLog }) {
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
    const onRequest = app.requireScopes(ADMIN_SCOPE)
    const tags = ['admin']

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
        const created = await accounts.add(
          {
            username,
            password,
            email,
            fullName: full_name,
            disabled,
            scopes,
          },
          actorOf(request),
        )
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
        const updated = await accounts.update(
          request.params.username,
          {
            email,
            fullName: full_name,
            disabled,
            scopes,
          },
          actorOf(request),
        )
        return updated
      },
    )

    app.delete(
      '/admin/users/:username',
      {
        onRequest,
        schema: { summary: 'Delete a user', tags, params: UsernameParams, response: NoContent },
      },
      async (request, reply) => {
        await accounts.remove(request.params.username, actorOf(request))
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
          response: NoContent,
        },
      },
      async (request, reply) => {
        await accounts.setPassword(request.params.username, request.body.password, actorOf(request))
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
          response: NoContent,
        },
      },
      async (request, reply) => {
        await accounts.endSessions(request.params.username, actorOf(request))
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
        const { limit, before } = request.query
        return { events: await auditLog.page({ limit, before }) }
      },
    )
  }
}
