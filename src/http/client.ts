// Who is on the other end of a request, as the use-cases record it: the client's address and user
// agent, for an authenticated request the user acting, and the OAuth client credentials it carried.
import type { FastifyRequest } from 'fastify'
import { InvalidClient, InvalidRequest } from '../errors.js'
import type { Actor, ClientInfo, SessionHolder } from '../services/shared/actor.js'
import type { PresentedClient } from '../services/clients/clients.js'

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

/**
 * The client credentials of an OAuth request (RFC 6749 §2.3.1): HTTP Basic (each half
 * form-urlencoded) or `client_id` / `client_secret` in the form, never both. An empty Basic
 * (Swagger UI sends `Basic Og==`) and empty form fields count as none. Undefined when none.
 */
export function presentedClientOf(request: FastifyRequest): PresentedClient | undefined {
  const form = (request.body ?? {}) as Readonly<Record<string, unknown>>
  const postedId =
    typeof form.client_id === 'string' && form.client_id !== '' ? form.client_id : undefined
  const postedSecret =
    typeof form.client_secret === 'string' && form.client_secret !== ''
      ? form.client_secret
      : undefined
  const header = request.headers.authorization
  let basic: { id: string; secret: string } | undefined
  if (header !== undefined && /^basic\s/i.test(header)) {
    const encoded = header.slice(6).trim()
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(encoded)
      ? Buffer.from(encoded, 'base64').toString('utf8')
      : ''
    const colon = decoded.indexOf(':')
    if (colon < 0) throw new InvalidClient(true, 'Malformed HTTP Basic client credentials')
    try {
      basic = {
        id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
        secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
      }
    } catch {
      throw new InvalidClient(true, 'Malformed HTTP Basic client credentials')
    }
    if (basic.id === '' && basic.secret === '') basic = undefined
  }
  if (basic) {
    if (postedSecret !== undefined || (postedId !== undefined && postedId !== basic.id))
      throw new InvalidRequest('Use one client authentication method: HTTP Basic or the form')
    if (basic.id === '') throw new InvalidClient(true)
    return { clientId: basic.id, secret: basic.secret, basic: true }
  }
  if (postedId === undefined) {
    if (postedSecret !== undefined) throw new InvalidClient(false)
    return undefined
  }
  return postedSecret === undefined
    ? { clientId: postedId, basic: false }
    : { clientId: postedId, secret: postedSecret, basic: false }
}
