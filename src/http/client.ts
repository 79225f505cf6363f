// Who is on the other end of a request, as the use-cases record it: the client's address and user
// agent, and for an authenticated request the user acting.
import type { FastifyRequest } from 'fastify'
import type { Actor, ClientInfo } from '../services/actor.js'
import type { SessionHolder } from '../services/sessions.js'

export function clientOf(request: FastifyRequest): ClientInfo & { ip: string } {
  return { userAgent: request.headers['user-agent'] ?? null, ip: request.ip }
}

/** The authenticated user of a protected route, acting. */
export function actorOf(request: FastifyRequest): Actor {
  return { name: request.user.username, ...clientOf(request) }
}

/** The authenticated user of a protected route, acting on their own sessions. */
export function holderOf(request: FastifyRequest): SessionHolder {
  return { ...actorOf(request), userId: request.auth.userId }
}
