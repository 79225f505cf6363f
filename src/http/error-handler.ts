// The one place where errors become HTTP answers: status, body and the WWW-Authenticate challenge.
// Bodies keep FastAPI's `detail` (drop-in clients read it) and add RFC 6749 `error` fields where
// the protocol defines them. A 5xx never carries internals; only unexpected errors and an
// unreachable database are logged.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify'
import {
  DatabaseUnavailable,
  GatehouseError,
  InsufficientScope,
  InsufficientUserAuthentication,
  MfaRequired,
  InvalidClient,
  Overloaded,
  Throttled,
  TooManyStreams,
  type ErrorCode,
} from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Errors of this route are token-endpoint errors (RFC 6749 §5.2): they carry `error`. */
    oauthTokenEndpoint?: boolean
  }
}

interface Answer {
  status: number
  detail: string
  /** RFC 6749 error code, sent as `error` (+ `error_description`). */
  error?: string
  /** Only on the token endpoint. */
  tokenEndpointError?: string
  challenge?: string
  retryAfter?: number
  /** More body fields the protocol defines for this error (e.g. Auth0's `mfa_token`). */
  fields?: Record<string, string | number>
}

/** The answer for an error, when it needs more than its code (a scope, a wait). */
type AnswerOf = (error: GatehouseError) => Answer

const challenge = 'Bearer'
const invalidToken = 'Bearer error="invalid_token"'
const unavailable = 'temporarily_unavailable'

/**
 * Every error code and its answer. `satisfies` makes a new code without an entry a compile error
 * instead of a silent 500.
 */
const ANSWERS = {
  invalid_request: (e) => ({ status: 400, detail: e.message, error: 'invalid_request' }),
  unsupported_grant_type: (e) => ({
    status: 400,
    detail: e.message,
    error: 'unsupported_grant_type',
  }),
  invalid_credentials: (e) => ({
    status: 401,
    detail: e.message,
    error: 'invalid_grant',
    challenge,
  }),
  // A registered client reads RFC 6749 §5.2: a refused grant is 400, never an authentication challenge.
  invalid_grant: (e) => ({ status: 400, detail: e.message, error: 'invalid_grant' }),
  inactive_user: (e) => ({ status: 400, detail: e.message, tokenEndpointError: 'invalid_grant' }),
  invalid_scope: (e) => ({ status: 400, detail: e.message, error: 'invalid_scope' }),
  // RFC 8707 §2: a `resource` no registered client serves.
  invalid_target: (e) => ({ status: 400, detail: e.message, error: 'invalid_target' }),
  invalid_refresh_token: (e) => ({ status: 400, detail: e.message, error: 'invalid_grant' }),
  insufficient_scope: (e) => {
    const scope = e instanceof InsufficientScope ? e.required.join(' ') : ''
    return {
      status: 403,
      detail: e.message,
      challenge: `Bearer error="insufficient_scope", scope="${scope}"`,
    }
  },
  incorrect_password: (e) => ({ status: 400, detail: e.message }),
  not_authenticated: (e) => ({ status: 401, detail: e.message, challenge }),
  invalid_token: (e) => ({ status: 401, detail: e.message, challenge: invalidToken }),
  token_expired: (e) => ({ status: 401, detail: e.message, challenge: invalidToken }),
  // RFC 8628's `slow_down` is the registered OAuth error closest to "wait before retrying".
  throttled: (e) => ({
    status: 429,
    detail: e.message,
    error: 'slow_down',
    retryAfter: e instanceof Throttled ? e.retryAfterSeconds : 1,
  }),
  throttle_unavailable: {
    status: 503,
    detail: 'Login is temporarily unavailable, try again shortly',
    error: unavailable,
    retryAfter: 1,
  },
  overloaded: (e) => ({
    status: 503,
    detail: e.message,
    error: unavailable,
    retryAfter: e instanceof Overloaded ? e.retryAfterSeconds : 1,
  }),
  // The driver's reason stays in the log: it names hosts and ports, which are internals.
  database_unavailable: {
    status: 503,
    detail: 'The database is unavailable, try again shortly',
    retryAfter: 1,
  },
  duplicate_user: (e) => ({ status: 409, detail: e.message }),
  registration_closed: (e) => ({ status: 403, detail: e.message }),
  not_found: (e) => ({ status: 404, detail: e.message }),
  user_not_found: (e) => ({ status: 404, detail: e.message }),
  invalid_input: (e) => ({ status: 400, detail: e.message }),
  invalid_link: (e) => ({ status: 400, detail: e.message }),
  unverified_email: (e) => ({
    status: 400,
    detail: e.message,
    tokenEndpointError: 'invalid_grant',
  }),
  // RFC 6749 §5.2: 401, with a Basic challenge when the client tried Basic.
  invalid_client: (e) => ({
    status: 401,
    detail: e.message,
    error: 'invalid_client',
    challenge: e instanceof InvalidClient && e.basic ? 'Basic realm="gatehouse"' : undefined,
  }),
  unauthorized_client: (e) => ({ status: 400, detail: e.message, error: 'unauthorized_client' }),
  // Raised at start-up only; a request that meets one is a bug, answered as one.
  config_error: { status: 500, detail: 'Internal Server Error' },
  // Auth0's answer, which the clients that speak its MFA flow expect as it is.
  mfa_required: (e): Answer => ({
    status: 403,
    detail: e.message,
    error: 'mfa_required',
    fields: e instanceof MfaRequired ? { mfa_token: e.mfaToken } : undefined,
  }),
  invalid_second_factor: (e) => ({
    status: 400,
    detail: e.message,
    tokenEndpointError: 'invalid_grant',
  }),
  // RFC 9470: `max_age` tells the client how recent a login would do; the body repeats it for pages.
  insufficient_user_authentication: (e) => {
    const maxAge = e instanceof InsufficientUserAuthentication ? e.maxAge : undefined
    return {
      status: 401,
      detail: e.message,
      error: 'insufficient_user_authentication',
      challenge:
        `Bearer error="insufficient_user_authentication", error_description="${e.message}"` +
        (maxAge === undefined ? '' : `, max_age=${maxAge}`),
      fields: maxAge === undefined ? undefined : { max_age: maxAge },
    }
  },
  // The client's own limit, not the server's load: 429 (RFC 6585), `slow_down` as for the throttle.
  too_many_streams: (e) => ({
    status: 429,
    detail: e.message,
    error: 'slow_down',
    retryAfter: e instanceof TooManyStreams ? e.retryAfterSeconds : 1,
  }),
} satisfies Record<ErrorCode, Answer | AnswerOf>

function answerFor(error: GatehouseError): Answer {
  const answer: Answer | AnswerOf = ANSWERS[error.code]
  return typeof answer === 'function' ? answer(error) : answer
}

/** Fastify's own 4xx errors (validation, body size, bad JSON ...) keep their status. */
function answerForFramework(error: FastifyError, request: FastifyRequest): Answer | undefined {
  if (error.validation) {
    return { status: 400, detail: validationDetail(error, request), error: 'invalid_request' }
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, detail: 'Request body is too large' }
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    return { status, detail: error.message, error: status === 400 ? 'invalid_request' : undefined }
  }
  return undefined
}

/** A missing or non-object body is said in words, not in the validator's ("body must be object"). */
function validationDetail(error: FastifyError, request: FastifyRequest): string {
  const wholeBody =
    error.validationContext === 'body' &&
    error.validation?.some((issue) => issue.instancePath === '' && issue.keyword === 'type')
  if (!wholeBody) return `Invalid request: ${error.message}`
  const consumes = (request.routeOptions.schema as { consumes?: string[] } | undefined)?.consumes
  return consumes?.includes('application/x-www-form-urlencoded')
    ? 'The request needs a form body (application/x-www-form-urlencoded)'
    : 'The request needs a JSON object body (application/json)'
}

function send(request: FastifyRequest, reply: FastifyReply, answer: Answer): FastifyReply {
  const error =
    answer.error ??
    (request.routeOptions.config.oauthTokenEndpoint ? answer.tokenEndpointError : undefined)
  if (answer.challenge) reply.header('WWW-Authenticate', answer.challenge)
  if (answer.retryAfter !== undefined) reply.header('Retry-After', String(answer.retryAfter))
  const body = error
    ? { detail: answer.detail, error, error_description: answer.detail, ...answer.fields }
    : { detail: answer.detail, ...answer.fields }
  return reply.code(answer.status).type('application/json; charset=utf-8').send(body)
}

/**
 * Fastify's `frameworkErrors` option: a URL the router cannot even read (a bad percent-escape, an
 * overlong path parameter) never reaches the error handler, and Fastify's own answer has no `detail`
 * and echoes the URL. This gives it the same shape as every other error.
 */
export function answerUnroutableRequest(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH')
    void send(request, reply, { status: 414, detail: 'URI Too Long' })
  else if (error.code === 'FST_ERR_BAD_URL')
    void send(request, reply, { status: 400, detail: 'Malformed URL' })
  else {
    request.log.error({ err: error }, 'unexpected error')
    void send(request, reply, { status: 500, detail: 'Internal Server Error' })
  }
}

/**
 * Fastify's `clientErrorHandler` option: what Node's HTTP parser refuses (a control character in a
 * header, a malformed request line, conflicting lengths, headers over the size limit) never becomes a
 * request. Answer it in the same JSON shape as every other error, and close the connection.
 */
export function answerClientError(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : 400
  const body = JSON.stringify({ detail: STATUS_CODES[status] })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer =
      error instanceof GatehouseError ? answerFor(error) : answerForFramework(error, request)
    if (error instanceof DatabaseUnavailable) {
      request.log.warn({ reason: error.reason }, 'database unavailable')
    }
    if (answer === undefined || answer.status === 500) {
      request.log.error({ err: error }, 'unexpected error')
    }
    return send(request, reply, answer ?? { status: 500, detail: 'Internal Server Error' })
  })

  // A known path asked with another method is a 405 naming the allowed ones, as FastAPI answers.
  const methodsByPath: Array<{ pattern: RegExp; methods: Set<string> }> = []
  app.addHook('onRoute', (route) => {
    const pattern = routePattern(route.url ?? route.path)
    const entry = methodsByPath.find((known) => known.pattern.source === pattern.source)
    const methods = [route.method].flat()
    if (entry) for (const method of methods) entry.methods.add(method)
    else methodsByPath.push({ pattern, methods: new Set(methods) })
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? ''
    const allowed = methodsByPath.find((known) => known.pattern.test(path))?.methods
    if (!allowed) return send(request, reply, { status: 404, detail: 'Not Found' })
    reply.header('Allow', [...allowed].sort().join(', '))
    return send(request, reply, { status: 405, detail: 'Method Not Allowed' })
  })
}

/** A route's URL as a regular expression over request paths: `:name` is one segment, `*` the rest. */
function routePattern(url: string): RegExp {
  const body = url
    .replace(/\/+$/, '')
    .split('/')
    .map((segment) =>
      segment.startsWith(':')
        ? '[^/]+'
        : segment === '*'
          ? '.*'
          : segment.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  // ignoreTrailingSlash: `/users/me` and `/users/me/` are one route.
  return new RegExp(`^${body}/?$`)
}
