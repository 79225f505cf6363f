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
  DuplicateUser,
  GatehouseError,
  InactiveUser,
  IncorrectPassword,
  InsufficientScope,
  InvalidCredentials,
  InvalidInput,
  InvalidRefreshToken,
  InvalidRequest,
  InvalidScope,
  InvalidToken,
  NotAuthenticated,
  NotFound,
  Overloaded,
  RegistrationClosed,
  Throttled,
  ThrottleUnavailable,
  TokenExpired,
  UnsupportedGrantType,
  UserNotFound,
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
}

function answerFor(error: GatehouseError): Answer | undefined {
  if (error instanceof InvalidCredentials)
    return { status: 401, detail: error.message, error: 'invalid_grant', challenge: 'Bearer' }
  if (error instanceof InactiveUser)
    return { status: 400, detail: error.message, tokenEndpointError: 'invalid_grant' }
  if (error instanceof NotAuthenticated)
    return { status: 401, detail: error.message, challenge: 'Bearer' }
  if (error instanceof InvalidToken || error instanceof TokenExpired) {
    return { status: 401, detail: error.message, challenge: 'Bearer error="invalid_token"' }
  }
  if (error instanceof InsufficientScope) {
    const scope = error.required.join(' ')
    return {
      status: 403,
      detail: error.message,
      challenge: `Bearer error="insufficient_scope", scope="${scope}"`,
    }
  }
  if (error instanceof InvalidRequest)
    return { status: 400, detail: error.message, error: 'invalid_request' }
  if (error instanceof InvalidScope)
    return { status: 400, detail: error.message, error: 'invalid_scope' }
  if (error instanceof InvalidRefreshToken)
    return { status: 400, detail: error.message, error: 'invalid_grant' }
  if (error instanceof IncorrectPassword) return { status: 400, detail: error.message }
  if (error instanceof NotFound) return { status: 404, detail: error.message }
  if (error instanceof UnsupportedGrantType)
    return { status: 400, detail: error.message, error: 'unsupported_grant_type' }
  if (error instanceof Throttled) {
    // RFC 8628's `slow_down` is the registered OAuth error closest to "wait before retrying".
    return {
      status: 429,
      detail: error.message,
      error: 'slow_down',
      retryAfter: error.retryAfterSeconds,
    }
  }
  if (error instanceof ThrottleUnavailable) {
    return {
      status: 503,
      detail: 'Login is temporarily unavailable, try again shortly',
      error: 'temporarily_unavailable',
      retryAfter: 1,
    }
  }
  if (error instanceof Overloaded) {
    return {
      status: 503,
      detail: error.message,
      error: 'temporarily_unavailable',
      retryAfter: error.retryAfterSeconds,
    }
  }
  if (error instanceof DatabaseUnavailable) {
    // The driver's reason stays in the log: it names hosts and ports, which are internals.
    return { status: 503, detail: 'The database is unavailable, try again shortly', retryAfter: 1 }
  }
  if (error instanceof DuplicateUser) return { status: 409, detail: error.message }
  if (error instanceof RegistrationClosed) return { status: 403, detail: error.message }
  if (error instanceof UserNotFound) return { status: 404, detail: error.message }
  if (error instanceof InvalidInput) return { status: 400, detail: error.message }
  return undefined
}

/** Fastify's own 4xx errors (validation, body size, bad JSON ...) keep their status. */
function answerForFramework(error: FastifyError): Answer | undefined {
  if (error.validation)
    return { status: 400, detail: `Invalid request: ${error.message}`, error: 'invalid_request' }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, detail: 'Request body is too large' }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500)
    return { status, detail: error.message, error: status === 400 ? 'invalid_request' : undefined }
  return undefined
}

function send(request: FastifyRequest, reply: FastifyReply, answer: Answer): FastifyReply {
  const error =
    answer.error ??
    (request.routeOptions.config.oauthTokenEndpoint ? answer.tokenEndpointError : undefined)
  if (answer.challenge) reply.header('WWW-Authenticate', answer.challenge)
  if (answer.retryAfter !== undefined) reply.header('Retry-After', String(answer.retryAfter))
  const body = error
    ? { detail: answer.detail, error, error_description: answer.detail }
    : { detail: answer.detail }
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
    const answer = error instanceof GatehouseError ? answerFor(error) : answerForFramework(error)
    if (error instanceof DatabaseUnavailable)
      request.log.warn({ reason: error.reason }, 'database unavailable')
    if (answer) return send(request, reply, answer)
    request.log.error({ err: error }, 'unexpected error')
    return send(request, reply, { status: 500, detail: 'Internal Server Error' })
  })
  app.setNotFoundHandler((request, reply) =>
    send(request, reply, { status: 404, detail: 'Not Found' }),
  )
}
