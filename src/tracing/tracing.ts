// OpenTelemetry traces over OTLP/HTTP, loaded only when an OTLP endpoint is configured (compose.ts
// imports this module dynamically): the tracer provider and its exporter, W3C trace context, and the
// span hooks handed to the hasher, the store proxy, the mailer and the request hooks.
import { context, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base'
import {
  ATTR_ERROR_TYPE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions'
import type { TraceSampler, TracingConfig } from '../config.js'
import { VERSION } from '../version.js'

/** Starts a span (a child of the active one); the returned function ends it, failed when given an error. */
export type StartSpan = (name: string, attributes?: Attributes) => EndSpan
export type EndSpan = (failure?: unknown) => void

export interface Tracing {
  tracer: ReturnType<BasicTracerProvider['getTracer']>
  propagator: W3CTraceContextPropagator
  startSpan: StartSpan
  /** Sends the spans buffered so far. */
  flush(): Promise<void>
  /** Sends the spans still buffered and stops the exporter. */
  shutdown(): Promise<void>
}

export function startTracing(config: TracingConfig): Tracing {
  // Async context (AsyncLocalStorage) is what makes a store call inside a request its child. Set once
  // per process: a second Gatehouse in the same process (tests) shares the first one's manager.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const exporter = new OTLPTraceExporter({ url: config.url, headers: config.headers })
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...config.resourceAttributes,
        [ATTR_SERVICE_NAME]: config.serviceName,
        [ATTR_SERVICE_VERSION]: VERSION,
      }),
    ),
    sampler: sampler(config.sampler, config.samplerRatio),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  })
  const tracer = provider.getTracer('gatehouse', VERSION)
  const startSpan: StartSpan = (name, attributes) => {
    const span = tracer.startSpan(name, { attributes })
    return (failure) => endSpan(span, failure)
  }
  return {
    tracer,
    propagator: new W3CTraceContextPropagator(),
    startSpan,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  }
}

/** Ends `span`; a failure is recorded by its kind only: an error's message may quote a value. */
export function endSpan(span: Span, failure?: unknown): void {
  if (failure !== undefined) {
    const kind = failure instanceof Error ? failure.constructor.name : typeof failure
    span.setAttribute(ATTR_ERROR_TYPE, kind)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}

function sampler(name: TraceSampler, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio)
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}
