// Route protection, the counterpart of FastAPI's `Depends(get_current_user)` and `Security(..., scopes=[...])`:
//   app.get('/mine', { onRequest: app.authenticate }, (request) => request.user.username)
//   app.get('/items', { onRequest: app.requireScopes('items') }, ...)
// The hook reads the bearer token (RFC 6750 §2.1), resolves the current user, checks scopes and sets
// `request.user`. Routes protected this way are marked (with their scopes) in the OpenAPI document.
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import {
  InsufficientScope,
  InsufficientUserAuthentication,
  InvalidToken,
  NotAuthenticated,
} from '../errors.js'
import type { CurrentUserResolver, Principal } from '../services/sessions/current-user.js'
import type { PublicUser } from '../services/shared/public-user.js'
import { ErrorSchema } from './schemas.js'

export const SECURITY_SCHEME = 'OAuth2PasswordBearer'

export type AuthenticateHook = (request: FastifyRequest) => Promise<void>

export interface RequireOptions {
  /** The token's login must have used a second factor (`amr` has `otp`). */
  mfa?: boolean
}

/** The RFC 8176 `amr` values that count as a second factor. */
const SECOND_FACTORS = ['otp', 'mfa']

declare module 'fastify' {
  interface FastifyInstance {
    /** Put on a route's `onRequest` (or `preHandler`) to require a valid bearer token. */
    authenticate: AuthenticateHook
    /**
     * Like `authenticate`, and the token must carry every one of these scopes; with `{ mfa: true }`
     * first, its login must also have had a second factor (else RFC 9470's 401).
     */
    requireScopes(...scopes: string[]): AuthenticateHook
    requireScopes(options: RequireOptions, ...scopes: string[]): AuthenticateHook
  }
  interface FastifyRequest {
    /** The authenticated user; set on routes protected with `app.authenticate` or `app.requireScopes`. */
    user: PublicUser
    /** Who and what the bearer token stands for: user id, session and scopes. */
    auth: Omit<Principal, 'user'>
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

export function registerAuthentication(app: FastifyInstance, resolve: CurrentUserResolver): void {
  app.decorateRequest('user', null as unknown as PublicUser)
  app.decorateRequest('auth', null as unknown as Omit<Principal, 'user'>)
  /** Each hook made here, with the scopes it requires, so the OpenAPI document can say so. */
  const hooks = new Map<unknown, readonly string[]>()

  const requireScopes = (first?: string | RequireOptions, ...rest: string[]): AuthenticateHook => {
    const options = typeof first === 'object' ? first : {}
    const required = typeof first === 'string' ? [first, ...rest] : rest
    const hook: AuthenticateHook = async (request) => {
      const { user, ...auth } = await resolve(readBearerToken(request.headers.authorization))
      if (!required.every((scope) => auth.scopes.includes(scope)))
        throw new InsufficientScope(required)
      if (options.mfa && !auth.amr.some((method) => SECOND_FACTORS.includes(method)))
        throw new InsufficientUserAuthentication()
      request.user = user
      request.auth = auth
    }
    hooks.set(hook, required)
    return hook
  }
  app.decorate('authenticate', requireScopes())
  app.decorate('requireScopes', requireScopes)

  app.addHook('onRoute', (route: RouteOptions) => {
    const protectedBy = [route.onRequest, route.preValidation, route.preHandler]
      .flat()
      .find((hook) => hooks.has(hook))
    if (!protectedBy) return
    const response = {
      401: ErrorSchema,
      400: ErrorSchema,
      403: ErrorSchema,
      ...(route.schema?.response as object | undefined),
    }
    route.schema = {
      ...route.schema,
      security: [{ [SECURITY_SCHEME]: [...hooks.get(protectedBy)!] }],
      response,
    }
  })
}
