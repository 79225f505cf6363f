// Route protection, the counterpart of FastAPI's `Depends(get_current_user)`:
//   app.get('/mine', { onRequest: app.authenticate }, (request) => request.user.username)
// The hook reads the bearer token (RFC 6750 §2.1), resolves the current user and sets `request.user`.
// Routes protected this way are marked in the OpenAPI document automatically.
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { InvalidToken, NotAuthenticated } from '../errors.js'
import type { CurrentUserResolver } from '../services/current-user.js'
import type { PublicUser } from '../services/public-user.js'
import { ErrorSchema } from './schemas.js'

export const SECURITY_SCHEME = 'OAuth2PasswordBearer'

export type AuthenticateHook = (request: FastifyRequest) => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    /** Put on a route's `onRequest` (or `preHandler`) to require a valid bearer token. */
    authenticate: AuthenticateHook
  }
  interface FastifyRequest {
    /** The authenticated user; set on routes protected with `app.authenticate`. */
    user: PublicUser
  }
}

/** The token of an `Authorization: Bearer <token>` header; NotAuthenticated without one. */
export function readBearerToken(header: string | undefined): string {
  if (header === undefined) throw new NotAuthenticated()
  const space = header.indexOf(' ')
  const scheme = space === -1 ? header : header.slice(0, space)
  // The scheme is case-insensitive (RFC 7235 §2.1); another scheme means no bearer credentials.
  if (scheme.toLowerCase() !== 'bearer') throw new NotAuthenticated()
  const token = space === -1 ? '' : header.slice(space + 1).trim()
  if (token === '') throw new InvalidToken()
  return token
}

export function registerAuthentication(app: FastifyInstance, resolveUser: CurrentUserResolver): void {
  app.decorateRequest('user', null as unknown as PublicUser)
  const authenticate: AuthenticateHook = async (request) => {
    request.user = await resolveUser(readBearerToken(request.headers.authorization))
  }
  app.decorate('authenticate', authenticate)

  app.addHook('onRoute', (route: RouteOptions) => {
    const hooks = [route.onRequest, route.preValidation, route.preHandler].flat()
    if (!hooks.includes(authenticate)) return
    const response = { 401: ErrorSchema, 400: ErrorSchema, ...(route.schema?.response as object | undefined) }
    route.schema = { ...route.schema, security: [{ [SECURITY_SCHEME]: [] }], response }
  })
}
