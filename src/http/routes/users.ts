// The current user's own resources: GET /users/me/ and the tutorial's example /users/me/items/.
// Each is protected by its one `onRequest: app.authenticate` line.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ItemSchema, PublicUserSchema } from '../schemas.js'

export async function userRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/users/me/',
    { onRequest: app.authenticate, schema: { summary: 'The current user', tags: ['users'], response: { 200: PublicUserSchema } } },
    async (request) => request.user,
  )

  app.get(
    '/users/me/items/',
    { onRequest: app.authenticate, schema: { summary: "The current user's items", tags: ['users'], response: { 200: Type.Array(ItemSchema) } } },
    async (request) => [{ item_id: 'Foo', owner: request.user.username }],
  )
}
