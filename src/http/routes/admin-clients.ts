// The admin API's registered OAuth clients under /admin/clients, guarded by the `admin` scope: the
// same operations as `gatehouse clients`. A confidential client's secret is answered once, at
// creation or rotation; the clients use-case audits every change with the admin's name.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { GrantRegistry } from '../../grants/index.js'
import type { Clients } from '../../services/clients/clients.js'
import { ADMIN_SCOPE } from '../../services/scopes/scopes.js'
import { actorOf } from '../client.js'
import { ErrorSchema, NoContent } from '../schemas.js'

const ClientSchema = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  confidential: Type.Boolean(),
  grants: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  resource: Type.Union([Type.String(), Type.Null()], {
    description: 'The resource URI it serves as a resource server (RFC 8707); null if none',
  }),
  created_at: Type.String({ format: 'date-time' }),
})

/** The grants a client may be registered for are the registry's, listed in the schema (and docs). */
const newClientSchema = (registrable: readonly string[]) =>
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 100 }),
      confidential: Type.Optional(Type.Boolean()),
      grants: Type.Optional(
        Type.Array(Type.Union(registrable.map((grant) => Type.Literal(grant))), {
          maxItems: 10,
        }),
      ),
      scopes: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
      ),
      resource: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 512,
          description:
            'Registers a confidential client as the resource server of this absolute URI (no fragment; unique)',
        }),
      ),
    },
    { additionalProperties: false },
  )

const CreatedClientSchema = Type.Object({
  ...ClientSchema.properties,
  client_secret: Type.Union([Type.String(), Type.Null()], {
    description: 'Shown only in this answer; null for a public client',
  }),
})

const SecretSchema = Type.Object({ client_id: Type.String(), client_secret: Type.String() })

const ClientParams = Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 200 }) })

export function adminClientRoutes({
  clients,
  grants,
}: {
  clients: Clients
  grants: GrantRegistry
}) {
  const NewClientSchema = newClientSchema(grants.registrable)
  return async function (fastify: FastifyInstance): Promise<void> {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
    const onRequest = app.requireScopes(ADMIN_SCOPE)
    const tags = ['admin']

    app.get(
      '/admin/clients',
      {
        onRequest,
        schema: {
          summary: 'List registered clients',
          tags,
          response: { 200: Type.Array(ClientSchema) },
        },
      },
      async () => clients.list(),
    )

    app.post(
      '/admin/clients',
      {
        onRequest,
        schema: {
          summary: 'Register a client (a confidential one gets its secret in this answer only)',
          tags,
          body: NewClientSchema,
          response: { 201: CreatedClientSchema, 400: ErrorSchema },
        },
      },
      async (request, reply) => {
        const { client, secret } = await clients.add(request.body, actorOf(request))
        return reply.code(201).send({ ...client, client_secret: secret ?? null })
      },
    )

    app.get(
      '/admin/clients/:client_id',
      {
        onRequest,
        schema: {
          summary: 'Show a client',
          tags,
          params: ClientParams,
          response: { 200: ClientSchema, 404: ErrorSchema },
        },
      },
      async (request) => clients.show(request.params.client_id),
    )

    app.delete(
      '/admin/clients/:client_id',
      {
        onRequest,
        schema: {
          summary: 'Remove a client',
          description:
            'Its secret and its own tokens stop working, and every session opened through it ends (its users sign in again).',
          tags,
          params: ClientParams,
          response: { ...NoContent, 404: ErrorSchema },
        },
      },
      async (request, reply) => {
        await clients.remove(request.params.client_id, actorOf(request))
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/admin/clients/:client_id/secret',
      {
        onRequest,
        schema: {
          summary: 'Give a confidential client a new secret (the old one stops working at once)',
          tags,
          params: ClientParams,
          response: { 200: SecretSchema, 400: ErrorSchema, 404: ErrorSchema },
        },
      },
      async (request) => ({
        client_id: request.params.client_id,
        client_secret: await clients.rotateSecret(request.params.client_id, actorOf(request)),
      }),
    )
  }
}
