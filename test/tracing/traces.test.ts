// OpenTelemetry traces end to end: a Gatehouse with an OTLP endpoint sends its spans to a receiver on
// a local port (OTLP/HTTP JSON), a request's `traceparent` makes them that trace's children, the
// hashing, store and mail work are child spans, the kit propagates the trace to introspection, and
// nothing secret or personal is in any attribute. Without an endpoint nothing is loaded or wrapped.
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { types } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config.js'
import { createGatehouseVerifier } from '../../packages/kit/src/verify.js'
import { build, buildShared, TEST_ACTOR, TEST_SECRET } from '../helper.js'

interface ExportedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  attributes: { key: string; value: Record<string, unknown> }[]
}

interface OtlpExport {
  resourceSpans: {
    resource: { attributes: ExportedSpan['attributes'] }
    scopeSpans: { spans: ExportedSpan[] }[]
  }[]
}

/** A minimal OTLP/HTTP receiver: keeps every JSON export POSTed to /v1/traces. */
function otlpReceiver(): { server: Server; exports: OtlpExport[]; raw: string[] } {
  const exports: OtlpExport[] = []
  const raw: string[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      if (request.method === 'POST' && request.url === '/v1/traces') {
        raw.push(body)
        exports.push(JSON.parse(body) as OtlpExport)
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  return { server, exports, raw }
}

const attribute = (span: ExportedSpan, key: string): unknown => {
  const value = span.attributes.find((entry) => entry.key === key)?.value
  return value && Object.values(value)[0]
}

const USERNAME = 'tracer-wilhelmina'
const PASSWORD = 'quiet-lantern-harbour-77'
// W3C trace context of the callers (an app in front of Gatehouse, a resource service).
const LOGIN_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const ME_TRACE = '0af7651916cd43dd8448eb211c80319c'
const KIT_TRACE = 'b7ad6b7169203331ad8ac3e7d8e2b1f0'
const CALLER_SPAN = '00f067aa0ba902b7'
const traceparent = (traceId: string) => `00-${traceId}-${CALLER_SPAN}-01`

describe('traces over OTLP/HTTP', () => {
  const receiver = otlpReceiver()
  let t: Awaited<ReturnType<typeof buildShared>>
  let url: string
  let token: string
  let spans: ExportedSpan[]

  beforeAll(async () => {
    receiver.server.listen(0, '127.0.0.1')
    await once(receiver.server, 'listening')
    const { port } = receiver.server.address() as AddressInfo
    // The kit fetches the issuer's metadata and keys: the issuer is the address the app listens on.
    const probe = createServer().listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const appPort = (probe.address() as AddressInfo).port
    await new Promise((closed) => probe.close(closed))
    url = `http://127.0.0.1:${appPort}`
    t = await buildShared({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
        ISSUER: url,
      },
    })
    await t.addUser({ username: USERNAME, password: PASSWORD, email: 'wilhelmina@example.com' })
    await t.app.listen({ host: '127.0.0.1', port: appPort })

    const login = await fetch(`${url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        traceparent: traceparent(LOGIN_TRACE),
      },
      body: new URLSearchParams({ username: USERNAME, password: PASSWORD }).toString(),
    })
    expect(login.status).toBe(200)
    token = ((await login.json()) as { access_token: string }).access_token

    const me = await fetch(`${url}/users/me/?fields=all`, {
      headers: { authorization: `Bearer ${token}`, traceparent: traceparent(ME_TRACE) },
    })
    expect(me.status).toBe(200)

    // A resource service's kit asks Gatehouse about the token, inside its own trace.
    const rs = await t.services.clients.add(
      {
        name: 'orders',
        confidential: true,
        grants: ['client_credentials'],
        resource: 'https://orders.example',
      },
      TEST_ACTOR,
    )
    const verifier = createGatehouseVerifier({
      issuer: url,
      revocation: { mode: 'introspect', clientId: rs.client.client_id, clientSecret: rs.secret! },
      introspectionHeaders: () => ({ traceparent: traceparent(KIT_TRACE) }),
    })
    const principal = await verifier.verify(token)
    expect(principal.username).toBe(USERNAME)

    // Outgoing mail (the log transport here) is traced too.
    await t.services.mailer.send('verify', 'wilhelmina@example.com', {
      username: USERNAME,
      link: `${url}/verify#token=one-time-link-secret`,
      validFor: '30 minutes',
    })
    await t.services.mailer.runOnce()

    await t.services.tracing!.flush()
    spans = receiver.exports.flatMap((batch) =>
      batch.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((s) => s.spans)),
    )
  })

  afterAll(async () => {
    await t?.close()
    receiver.server.close()
  })

  const trace = (traceId: string) => spans.filter((span) => span.traceId === traceId)
  const serverSpan = (traceId: string) => {
    const found = trace(traceId).filter((span) => span.parentSpanId === CALLER_SPAN)
    expect(found).toHaveLength(1)
    return found[0]!
  }

  it('makes a login a child of the caller, with the hashing queue, the verification and the store calls below it', () => {
    const request = serverSpan(LOGIN_TRACE)
    expect(request.name).toBe('POST /token')
    expect(attribute(request, 'http.request.method')).toBe('POST')
    expect(attribute(request, 'http.route')).toBe('/token')
    expect(Number(attribute(request, 'http.response.status_code'))).toBe(200)
    const children = trace(LOGIN_TRACE).filter((span) => span.parentSpanId === request.spanId)
    const names = children.map((span) => span.name)
    expect(names).toContain('password.hashing_queue')
    expect(names).toContain('password.verify')
    const storeCalls = children.filter((span) => span.name.startsWith('store.'))
    expect(storeCalls.length).toBeGreaterThan(0)
    for (const call of storeCalls) {
      expect(attribute(call, 'db.system.name')).toBe('sqlite')
      expect(attribute(call, 'db.operation.name')).toBe(call.name.slice('store.'.length))
    }
  })

  it('makes /users/me/ a child of the caller, with its store calls below it', () => {
    const request = serverSpan(ME_TRACE)
    expect(request.name).toBe('GET /users/me/')
    expect(attribute(request, 'http.route')).toBe('/users/me/')
    const children = trace(ME_TRACE).filter((span) => span.parentSpanId === request.spanId)
    expect(children.some((span) => span.name.startsWith('store.'))).toBe(true)
  })

  it("joins the kit's introspection call to the resource service's trace", () => {
    expect(serverSpan(KIT_TRACE).name).toBe('POST /introspect')
  })

  it('traces outgoing mail by its kind only', () => {
    const mail = spans.find((span) => span.name === 'mail.send')
    expect(mail).toBeDefined()
    expect(attribute(mail!, 'gatehouse.mail.kind')).toBe('verify')
  })

  it('names the service and keeps the resource attributes', () => {
    const resource = receiver.exports[0]!.resourceSpans[0]!.resource
    const value = (key: string) =>
      resource.attributes.find((entry) => entry.key === key)?.value.stringValue
    expect(value('service.name')).toBe('gatehouse')
    expect(value('deployment.environment.name')).toBe('test')
  })

  it('exports no password, token, username, address, query or secret', () => {
    const everything = receiver.raw.join('\n')
    expect(everything.length).toBeGreaterThan(0)
    for (const secret of [
      PASSWORD,
      token,
      token.split('.')[2]!,
      USERNAME,
      'wilhelmina@example.com',
      'one-time-link-secret',
      'fields=all',
      TEST_SECRET,
    ])
      expect(everything).not.toContain(secret)
  })
})

describe('traces off', () => {
  it('loads no SDK and wraps nothing without an OTLP endpoint', async () => {
    const t = await build()
    expect(t.services.tracing).toBeUndefined()
    expect(types.isProxy(t.services.store)).toBe(false)
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBeLessThan(500)
  })
})

describe('tracing configuration (OTEL_*)', () => {
  const parse = (env: Record<string, string>) => parseConfig({ SECRET_KEY: TEST_SECRET, ...env })

  it('is off unless an endpoint is set, and when OTEL_SDK_DISABLED=true', () => {
    expect(parse({}).tracing).toBeUndefined()
    expect(
      parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })
        .tracing,
    ).toBeUndefined()
  })

  it('reads the endpoints, headers, service name and sampler as the OTel SDKs do', () => {
    const tracing = parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D,x-team=auth',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-team=identity',
      OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=shop,service.name=ignored-by-OTEL_SERVICE_NAME',
      OTEL_SERVICE_NAME: 'auth',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    }).tracing
    expect(tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      headers: { 'x-api-key': 'abc==', 'x-team': 'identity' },
      serviceName: 'auth',
      resourceAttributes: {
        'service.namespace': 'shop',
        'service.name': 'ignored-by-OTEL_SERVICE_NAME',
      },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    })
    expect(
      parse({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/custom/traces' }).tracing,
    ).toMatchObject({ url: 'https://collector/custom/traces', serviceName: 'gatehouse' })
  })

  it('refuses what it cannot honour, without echoing header values', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }
    expect(() => parse({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTLP\/HTTP/)
    expect(() => parse({ ...endpoint, OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(
      /OTEL_TRACES_SAMPLER/,
    )
    expect(() => parse({ ...endpoint, OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/ratio/)
    expect(() => parse({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/http/)
    const headers = { ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'api-key-secret-value' }
    expect(() => parse(headers)).toThrow(/OTEL_EXPORTER_OTLP_HEADERS must look like/)
    expect(() => parse(headers)).not.toThrow(/api-key-secret-value/)
  })
})
