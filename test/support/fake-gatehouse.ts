// A small fake Gatehouse (node:http) for the resource-server kit's tests, with keys of the test's own:
// RFC 8414 metadata, a JWKS (EdDSA), /introspect (HTTP Basic) and /events/revocations, whose
// subscriptions the test drives event by event. It signs tokens as Gatehouse does (EdDSA, or HS256
// with a secret the kit never sees), so that tests can mint any claims, `aud` included.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWTPayload } from 'jose'

const KEYS = await generateKeyPair('EdDSA')
const JWK = { ...(await exportJWK(KEYS.publicKey)), kid: 'test-key', alg: 'EdDSA', use: 'sig' }
/** The HMAC secret of the fake when it plays an HS256 Gatehouse: known to it and to no service. */
const HMAC_SECRET = new TextEncoder().encode('fake-gatehouse-hmac-secret-that-is-long-enough')
const ACCESS_TOKEN_SECONDS = 900

export const CLIENT_ID = 'orders-1'
export const CLIENT_SECRET = 'orders-secret'
export const nowS = () => Math.floor(Date.now() / 1000)

/** One subscriber's connection, as the fake server sees it. */
export interface Subscription {
  lastEventId: string | undefined
  send(kind: string, data: Record<string, unknown>, id?: number): void
  ready(heartbeatSeconds?: number): void
  heartbeat(): void
  drop(): void
  closed: Promise<unknown>
}

export type FakeGatehouse = Awaited<ReturnType<typeof fakeGatehouse>>

export async function fakeGatehouse() {
  const waiting: ((subscription: Subscription) => void)[] = []
  const arrived: Subscription[] = []
  const introspected: string[] = []
  const fake = {
    issuer: '',
    /** What /events/revocations answers instead of a stream (401, 503), if set. */
    refuseWith: undefined as number | undefined,
    /** What /introspect answers for a token; by default as Gatehouse: its verified claims, active. */
    introspection: (token: string): Record<string, unknown> | Promise<Record<string, unknown>> =>
      activeAnswer(fake.issuer, token),
    /** The tokens introspected, in order. */
    introspected,
    /** When set, /introspect answers 500. */
    introspectionFails: false,
    /** When set, the JWKS answers 500. */
    jwksFails: false,
    /** When set, it plays an HS256 Gatehouse: its JWKS is empty. */
    signsWithSecret: false,
    /** The next subscription to arrive (or one that arrived and was not yet taken). */
    nextSubscription(): Promise<Subscription> {
      const first = arrived.shift()
      if (first) return Promise.resolve(first)
      return new Promise((resolve) => waiting.push(resolve))
    },
    close: async () => {},
  }
  let nextId = 1
  const authorized = (request: IncomingMessage) =>
    request.headers.authorization === `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`

  const subscribe = (request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    response.write('retry: 1000\n\n')
    const header = request.headers['last-event-id']
    const subscription: Subscription = {
      lastEventId: typeof header === 'string' ? header : undefined,
      send(kind, data, id = nextId++) {
        response.write(`id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`)
      },
      ready(heartbeat = 15) {
        response.write(`event: ready\ndata: ${JSON.stringify({ heartbeat })}\n\n`)
      },
      heartbeat: () => response.write(': heartbeat\n\n'),
      drop: () => response.destroy(),
      closed: once(response, 'close'),
    }
    const taker = waiting.shift()
    if (taker) taker(subscription)
    else arrived.push(subscription)
  }

  const json = (response: ServerResponse, body: unknown) => {
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify(body))
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    if (path === '/.well-known/oauth-authorization-server') {
      json(response, {
        issuer: fake.issuer,
        introspection_endpoint: `${fake.issuer}/introspect`,
        jwks_uri: `${fake.issuer}/.well-known/jwks.json`,
      })
    } else if (path === '/.well-known/jwks.json') {
      if (fake.jwksFails) response.writeHead(500).end()
      else json(response, { keys: fake.signsWithSecret ? [] : [JWK] })
    } else if (path === '/introspect' && authorized(request)) {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? ''
        introspected.push(token)
        if (fake.introspectionFails) return void response.writeHead(500).end()
        void Promise.resolve(fake.introspection(token)).then((answer) => json(response, answer))
      })
    } else if (path === '/events/revocations') {
      if (!authorized(request) || fake.refuseWith !== undefined) {
        response.writeHead(fake.refuseWith ?? 401, { 'www-authenticate': 'Basic' })
        response.end('{"error":"invalid_client"}')
      } else subscribe(request, response)
    } else {
      response.writeHead(404).end()
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  fake.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  fake.close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  return fake
}

/** Gatehouse's RFC 7662 answer for a token it signed: its claims, or inactive. */
async function activeAnswer(issuer: string, token: string): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => (header.alg === 'HS256' ? HMAC_SECRET : KEYS.publicKey),
      { issuer, typ: 'at+jwt', algorithms: ['EdDSA', 'HS256'] },
    )
    return { active: true, token_type: 'Bearer', ...payload }
  } catch {
    return { active: false }
  }
}

export interface TokenClaims {
  sub: string
  sid?: string
  iat?: number
  scope?: string
  client_id?: string
  /** Default: the issuer (Gatehouse's own audience). */
  aud?: string | string[]
}

/**
 * An access token as the fake Gatehouse signs it (RFC 9068): EdDSA, or HS256 with its secret (set
 * `signsWithSecret` on the fake when it plays an HS256 Gatehouse).
 */
export async function signToken(
  fake: Pick<FakeGatehouse, 'issuer'>,
  claims: TokenClaims,
  algorithm: 'EdDSA' | 'HS256' = 'EdDSA',
) {
  const iat = claims.iat ?? nowS()
  const { aud = fake.issuer, ...rest } = claims
  const payload: JWTPayload = { scope: 'me items', ...rest }
  return new SignJWT(payload)
    .setProtectedHeader(
      algorithm === 'HS256'
        ? { alg: 'HS256', typ: 'at+jwt' }
        : { alg: 'EdDSA', typ: 'at+jwt', kid: JWK.kid },
    )
    .setIssuer(fake.issuer)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_SECONDS)
    .sign(algorithm === 'HS256' ? HMAC_SECRET : KEYS.privateKey)
}

/**
 * A fetch that reports each chunk of the revocation stream as it reaches the verifier, so that a test
 * on a fake clock knows when the verifier has read what the server wrote (no real wait).
 */
export function tappedFetch() {
  const waiting: (() => void)[] = []
  return {
    /** Resolves once the next chunk of the stream has been handed to the verifier and read. */
    nextChunk: () => new Promise<void>((resolve) => waiting.push(resolve)),
    fetch: (async (input, init) => {
      const response = await fetch(input, init)
      const url = input instanceof Request ? input.url : input.toString()
      if (!url.endsWith('/events/revocations') || !response.body) return response
      const tap = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(chunk)
          // After the verifier's pending read and what it does synchronously with the chunk.
          const resolve = waiting.shift()
          if (resolve) setImmediate(resolve)
        },
      })
      return new Response(response.body.pipeThrough(tap), {
        status: response.status,
        headers: response.headers,
      })
    }) as typeof fetch,
  }
}
