// GET /healthz: the process is up and serving (a liveness probe; it touches nothing else).
import type { FastifyInstance } from 'fastify'
import { HealthSchema } from '../schemas.js'

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { schema: { summary: 'Liveness', tags: ['operations'], response: { 200: HealthSchema } } }, async () => ({
    status: 'ok' as const,
  }))
}
