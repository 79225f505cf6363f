// GET /events/revocations (docs/revocation-events.md): what ends or alters tokens, as Server-Sent
// Events, for confidential clients authenticated as at /introspect. The route authenticates, reads
// Last-Event-ID and hands the socket over; services/events/revocation-events.ts owns the stream.
import type { FastifyInstance } from 'fastify'
import { InvalidClient, InvalidRequest } from '../../errors.js'
import type { Clients } from '../../services/clients/clients.js'
import type { RevocationEvents } from '../../services/events/revocation-events.js'
import { presentedClientOf } from '../client.js'
import { ErrorSchema } from '../schemas.js'

const DESCRIPTION = `Server-Sent Events for resource servers: each ended session (\`session_ended\`), each user whose sessions all ended (\`user_sessions_ended\`), each removed user (\`user_removed\`) and each changed user (\`user_changed\`), as they happen on any instance. For registered confidential clients, with HTTP Basic (\`client_id:client_secret\`).

Each instance serves at most 10 streams per client (429) and 1 000 in all (503). A client's streams end when it is removed or its secret is rotated.

The stream starts after the \`Last-Event-ID\` sent (the last \`id\` received: a resume point, which loses nothing and may repeat events), or without it with every event whose \`until\` has not passed. After that backlog comes \`event: ready\` (\`{"heartbeat": seconds}\`), then live events, and a \`: heartbeat\` comment when nothing else was sent for that long. See docs/revocation-events.md.`

/** `Last-Event-ID`: a resume point this server gave out, a decimal integer from 0 to 2^53. */
function parseLastEventId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined
  const text = (Array.isArray(header) ? header.join(',') : header).trim()
  // EventSource sends none until it has seen an id; an empty one says the same.
  if (text === '') return undefined
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN
  if (!(value <= 2 ** 53))
    throw new InvalidRequest(
      'Last-Event-ID must be the id of an event received from this stream (an integer from 0 to 2^53)',
    )
  return value
}

export function revocationEventRoutes({
  clients,
  revocationEvents,
}: {
  clients: Clients
  revocationEvents: RevocationEvents
}) {
  return async function (app: FastifyInstance): Promise<void> {
    // Open streams would keep the server from closing: they end first, and receivers resume elsewhere.
    app.addHook('preClose', () => revocationEvents.endStreams())

    app.get(
      '/events/revocations',
      {
        schema: {
          summary: 'Revocation events (Server-Sent Events), for confidential clients',
          description: DESCRIPTION,
          tags: ['auth'],
          headers: {
            type: 'object',
            properties: {
              'last-event-id': {
                type: 'string',
                description: 'The last `id` received: the stream resumes after it',
              },
            },
          },
          response: {
            200: {
              description:
                'An endless `text/event-stream`: `retry`, the backlog, `ready`, then live events and heartbeats',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            400: { description: 'Malformed Last-Event-ID', ...ErrorSchema },
            401: {
              description: 'Missing or bad client credentials, or not a confidential client',
              ...ErrorSchema,
            },
            429: {
              description:
                'Too many failed client authentications, or this client has as many streams open on this instance as it may (see Retry-After)',
              ...ErrorSchema,
            },
            503: {
              description:
                'Too many subscribers on this instance, or the database is unavailable (see Retry-After)',
              ...ErrorSchema,
            },
          },
        },
      },
      async (request, reply) => {
        // HTTP Basic only: a GET has no form to carry client_secret_post.
        const presented = presentedClientOf(request)
        if (!presented) throw new InvalidClient(true, 'Client authentication required (HTTP Basic)')
        const client = await clients.requireResourceServer(presented, request.ip)
        const lastEventId = parseLastEventId(request.headers['last-event-id'])
        const stream = await revocationEvents.subscribe({
          clientId: client.id,
          lastEventId,
          // The secret may have been rotated (or the client removed) since it was checked above.
          async confirm() {
            if (!(await clients.stillCurrent(presented))) throw new InvalidClient(true)
          },
        })
        reply.hijack()
        // Headers other hooks set (CORS) go out too: a hijacked reply writes its own.
        for (const [name, value] of Object.entries(reply.getHeaders()))
          if (value !== undefined) reply.raw.setHeader(name, value)
        reply.raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          // Proxies (nginx) must pass each event on at once, not buffer the stream.
          'x-accel-buffering': 'no',
        })
        stream.attach(reply.raw)
      },
    )
  }
}
