// A server span per HTTP request, by Fastify hooks: named by method and route template, with the
// HTTP semantic conventions' method, route and status only (no path, query, headers or body: they can
// carry usernames and tokens). An incoming W3C `traceparent` makes it that trace's child.
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api'
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Tracing } from './tracing.js'

interface RequestTrace {
  span: Span
  context: Context
}

const traces = new WeakMap<FastifyRequest, RequestTrace>()

/** The traceparent and tracestate of the incoming headers (the only ones read). */
const headerGetter = {
  keys: (headers: FastifyRequest['headers']) => Object.keys(headers),
  get: (headers: FastifyRequest['headers'], key: string) => headers[key],
}

export function registerRequestSpans(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = tracing.propagator.extract(ROOT_CONTEXT, request.headers, headerGetter)
    const route = request.routeOptions.url
    const span = tracing.tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: request.method,
          [ATTR_URL_SCHEME]: request.protocol,
          ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
        },
      },
      parent,
    )
    const active = trace.setSpan(parent, span)
    traces.set(request, { span, context: active })
    context.with(active, done)
  })
  // The body is read between onRequest and here, on the socket's events: a body parser or plugin that
  // loses the async context would orphan the handler's spans, so the handler is entered in it again.
  app.addHook('preHandler', (request, _reply, done) => {
    const current = traces.get(request)
    if (current) context.with(current.context, done)
    else done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const current = traces.get(request)
    if (current) {
      current.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode)
      // Server spans fail on 5xx only: a 4xx is the client's mistake, answered as designed.
      if (reply.statusCode >= 500) {
        current.span.setAttribute(ATTR_ERROR_TYPE, String(reply.statusCode))
        current.span.setStatus({ code: SpanStatusCode.ERROR })
      }
      current.span.end()
      traces.delete(request)
    }
    done()
  })
  app.addHook('onRequestAbort', (request, done) => {
    const current = traces.get(request)
    if (current) {
      current.span.setAttribute('error.type', 'aborted')
      current.span.end()
      traces.delete(request)
    }
    done()
  })
}
