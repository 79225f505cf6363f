// Probes: GET /healthz (the process is up and serving; it touches nothing else) and GET /readyz
// (the database answers; 503 with the reason otherwise, so a load balancer stops sending traffic).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import { HealthSchema } from '../schemas.js'

export function healthRoutes(ping: () => Promise<void>) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get(
      '/healthz',
      { schema: { summary: 'Liveness', tags: ['operations'], response: { 200: HealthSchema } } },
      async () => ({
        status: 'ok' as const,
      }),
    )

    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Readiness: the database answers',
          tags: ['operations'],
          response: {
            200: Type.Object({ status: Type.Literal('ready') }),
            503: Type.Object({ status: Type.Literal('unavailable'), detail: Type.String() }),
          },
        },
      },
      async (request, reply) => {
        const ready = await ping().then(
          () => true,
          (error: unknown) => (request.log.warn({ err: error }, 'readiness check failed'), false),
        )
        if (ready) return { status: 'ready' as const }
        return reply
          .code(503)
          .send({ status: 'unavailable' as const, detail: 'The database is unreachable' })
      },
    )
  }
}
