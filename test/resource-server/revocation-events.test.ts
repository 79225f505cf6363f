// The kit's `events` revocation mode against a small fake Gatehouse (node:http) that the test drives:
// the backlog and `ready`, what each kind of event refuses (and what it must not), the one
// introspection after a user changed, resuming with Last-Event-ID, a silent connection taken for
// dead, the stale window then 503, refused credentials, close() (and the Fastify adapter's).
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createGatehouseVerifierFor } from '../../src/resource-server/fastify.js'
import {
  createGatehouseVerifier,
  type GatehouseVerifier,
  type RevocationEventsOptions,
  type RevocationEventsStatus,
} from '../../src/resource-server/verify.js'

const SECRET = 'fake-gatehouse-secret-that-is-long-enough-0123'
const CLIENT_ID = 'orders-1'
const CLIENT_SECRET = 'orders-secret'
const nowS = () => Math.floor(Date.now() / 1000)

/** One subscriber's connection, as the fake server sees it. */
interface Subscription {
  lastEventId: string | undefined
  send(kind: string, data: Record<string, unknown>, id?: number): void
  ready(heartbeatSeconds?: number): void
  heartbeat(): void
  drop(): void
  closed: Promise<unknown>
}

async function fakeGatehouse() {
  const waiting: ((subscription: Subscription) => void)[] = []
  const arrived: Subscription[] = []
  const introspected: string[] = []
  const fake = {
    issuer: '',
    /** What /events/revocations answers instead of a stream (401, 503), if set. */
    refuseWith: undefined as number | undefined,
    introspection: (_token: string): Record<string, unknown> => ({ active: true, scope: 'items' }),
    introspected,
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

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    if (path === '/.well-known/oauth-authorization-server') {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ introspection_endpoint: `${fake.issuer}/introspect` }))
    } else if (path === '/introspect' && authorized(request)) {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? ''
        introspected.push(token)
        response.setHeader('content-type', 'application/json')
        response.end(JSON.stringify(fake.introspection(token)))
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

type Fake = Awaited<ReturnType<typeof fakeGatehouse>>

/** An access token as Gatehouse signs it (HS256, RFC 9068). */
async function token(
  fake: Fake,
  claims: { sub: string; sid?: string; iat?: number; scope?: string; client_id?: string },
) {
  const iat = claims.iat ?? nowS()
  return new SignJWT({ scope: 'me items', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setIssuer(fake.issuer)
    .setAudience(fake.issuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 900)
    .sign(new TextEncoder().encode(SECRET))
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setUp(options: Partial<RevocationEventsOptions> = {}) {
  const fake = await fakeGatehouse()
  cleanups.push(fake.close)
  const errors: Error[] = []
  const verifier = createGatehouseVerifier({
    issuer: fake.issuer,
    secret: SECRET,
    revocation: {
      mode: 'events',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      onError: (error) => errors.push(error),
      ...options,
    },
  })
  cleanups.push(() => verifier.close())
  const status = () => verifier.status() as RevocationEventsStatus
  return { fake, verifier, errors, status }
}

/** The HTTP status the verifier answers for a token (200 when it passes). */
async function statusOf(verifier: GatehouseVerifier, jwt: string, scopes: string[] = []) {
  try {
    await verifier.verify(jwt, scopes)
    return 200
  } catch (error) {
    return (error as { status: number }).status
  }
}

const times = (at: number, lifetime = 930) => ({ at, until: at + lifetime })

describe('the events revocation mode', () => {
  it('applies the backlog before ready, and each kind refuses what it must and nothing else', async () => {
    const { fake, verifier, status } = await setUp()
    const stream = await fake.nextSubscription()
    expect(stream.lastEventId).toBeUndefined()
    const at = nowS() - 10
    stream.send('session_ended', { sid: 'ended-sid', sub: 'alice', ...times(at) })
    stream.send('user_sessions_ended', { sub: 'bob', ...times(at) })
    stream.send('user_removed', { sub: 'carol', ...times(at) })
    // An event whose `until` has passed concerns no token that can still pass.
    stream.send('session_ended', { sid: 'old-sid', sub: 'alice', at: at - 2000, until: at - 1000 })
    stream.send('some_future_kind', { sub: 'alice', ...times(at) })
    stream.ready()

    // A verification waits for `ready`, so the backlog is already applied.
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 'ended-sid' }))).toBe(
      401,
    )
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 'other-sid' }))).toBe(
      200,
    )
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 'old-sid' }))).toBe(200)
    // Times are whole seconds: a token of the second of the end may be of a login just after it, so
    // it is introspected once (a live one passes, an ended one is refused).
    fake.introspection = (jwt) => ({ active: jwt === bobSameSecond, scope: 'me items' })
    const bobSameSecond = await token(fake, { sub: 'bob', sid: 'bob-2', iat: at })
    for (const sub of ['bob', 'carol']) {
      const before = await token(fake, { sub, sid: `${sub}-1`, iat: at - 1 })
      const sameSecond = await token(fake, { sub, sid: `${sub}-2`, iat: at })
      const after = await token(fake, { sub, sid: `${sub}-3`, iat: at + 1 })
      expect(await statusOf(verifier, before)).toBe(401)
      expect(await statusOf(verifier, sameSecond)).toBe(sub === 'bob' ? 200 : 401)
      expect(await statusOf(verifier, sameSecond)).toBe(sub === 'bob' ? 200 : 401)
      expect(await statusOf(verifier, after)).toBe(200)
    }
    expect(fake.introspected).toHaveLength(2)
    const dave = await token(fake, { sub: 'dave', sid: 'dave-1', iat: at - 1 })
    expect(await statusOf(verifier, dave)).toBe(200)
    expect(fake.introspected).toHaveLength(2)
    expect(status()).toMatchObject({
      mode: 'events',
      state: 'connected',
      lastEventId: '5',
    })
  })

  it('answers live events within the stream, with no call to Gatehouse per request', async () => {
    const { fake, verifier, status } = await setUp()
    const stream = await fake.nextSubscription()
    stream.ready()
    const jwt = await token(fake, { sub: 'alice', sid: 'live-sid' })
    expect(await statusOf(verifier, jwt, ['items'])).toBe(200)
    stream.send('session_ended', { sid: 'live-sid', sub: 'alice', ...times(nowS()) }, 42)
    await vi.waitFor(() => expect(status().lastEventId).toBe('42'))
    expect(await statusOf(verifier, jwt, ['items'])).toBe(401)
    expect(fake.introspected).toEqual([])
  })

  it('re-checks a token of a changed user once by introspection, until the user changes again', async () => {
    const { fake, verifier, status } = await setUp()
    const stream = await fake.nextSubscription()
    const at = nowS() - 10
    stream.send('user_changed', { sub: 'dave', ...times(at) })
    stream.ready()
    fake.introspection = () => ({ active: true, scope: 'me' })
    const before = await token(fake, { sub: 'dave', sid: 'dave-1', iat: at - 1 })
    const after = await token(fake, { sub: 'dave', sid: 'dave-2', iat: at + 1 })

    // The scope `items` was removed: introspection says so, and its answer is used.
    const [first, concurrent] = await Promise.all([
      statusOf(verifier, before, ['items']),
      statusOf(verifier, before, ['items']),
    ])
    expect([first, concurrent]).toEqual([403, 403])
    expect(await statusOf(verifier, before, ['me'])).toBe(200)
    expect(fake.introspected).toEqual([before])
    // A token issued after the change is trusted as it is.
    expect(await statusOf(verifier, after, ['items'])).toBe(200)
    expect(fake.introspected).toEqual([before])

    // The next change of the user: asked again, and now the user is disabled.
    fake.introspection = () => ({ active: false })
    stream.send('user_changed', { sub: 'dave', ...times(at + 5) }, 77)
    await vi.waitFor(() => expect(status().lastEventId).toBe('77'))
    expect(await statusOf(verifier, before, ['me'])).toBe(401)
    expect(await statusOf(verifier, before, ['me'])).toBe(401)
    expect(fake.introspected).toEqual([before, before])
  })

  it('reconnects after the server drops the connection, sending the last id received', async () => {
    const { fake, verifier, status } = await setUp()
    const first = await fake.nextSubscription()
    first.send('session_ended', { sid: 'a', sub: 'alice', ...times(nowS()) }, 7)
    first.ready()
    const missed = await token(fake, { sub: 'alice', sid: 'missed-sid' })
    expect(await statusOf(verifier, missed)).toBe(200)
    first.drop()

    const second = await fake.nextSubscription()
    expect(second.lastEventId).toBe('7')
    expect(status().state).toBe('reconnecting')
    // Within the stale window tokens are still trusted.
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 'b' }))).toBe(200)
    second.send('session_ended', { sid: 'missed-sid', sub: 'alice', ...times(nowS()) }, 8)
    second.ready()
    await vi.waitFor(() => expect(status().state).toBe('connected'))
    expect(await statusOf(verifier, missed)).toBe(401)
  })

  it('takes a silent connection for dead after 2 x heartbeat + 5 s and reconnects', async () => {
    const { fake, verifier, errors } = await setUp()
    const first = await fake.nextSubscription()
    first.send('user_removed', { sub: 'erin', ...times(nowS()) }, 3)
    first.ready(0.5)
    expect(await statusOf(verifier, await token(fake, { sub: 'frank', sid: 'f' }))).toBe(200)
    const started = Date.now()
    // The server keeps the socket open but sends nothing, not even `: heartbeat`.
    const second = await fake.nextSubscription()
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(5_500)
    expect(waited).toBeLessThan(12_000)
    expect(second.lastEventId).toBe('3')
    expect(errors.map((error) => error.message)).toContain(
      'the revocation stream was silent for 6 s',
    )
    await first.closed
  }, 20_000)

  it('keeps heartbeats as proof of life', async () => {
    const { fake, status } = await setUp()
    const stream = await fake.nextSubscription()
    stream.ready(0.2)
    // 5.4 s would be a dead connection without them: heartbeats every 0.2 s over 6 s keep it.
    const beat = setInterval(() => stream.heartbeat(), 200)
    try {
      await new Promise((resolve) => setTimeout(resolve, 6_000))
    } finally {
      clearInterval(beat)
    }
    expect(status().state).toBe('connected')
  }, 15_000)

  it('answers 503 once the stream has been lost for staleAfterSeconds, and recovers', async () => {
    const { fake, verifier, status } = await setUp({ staleAfterSeconds: 1 })
    const first = await fake.nextSubscription()
    first.ready()
    const jwt = await token(fake, { sub: 'alice', sid: 's' })
    expect(await statusOf(verifier, jwt)).toBe(200)
    fake.refuseWith = 503
    first.drop()
    await vi.waitFor(() => expect(status().state).toBe('reconnecting'))
    expect(await statusOf(verifier, jwt)).toBe(200)
    await vi.waitFor(() => expect(status().state).toBe('stale'), { timeout: 3_000 })
    await expect(verifier.verify(jwt)).rejects.toMatchObject({
      status: 503,
      detail: 'The authorization server cannot be reached',
    })
    // A client's own token has no session to end: trusted until it expires.
    const clientToken = await token(fake, { sub: CLIENT_ID, client_id: CLIENT_ID })
    expect(await statusOf(verifier, clientToken)).toBe(200)

    fake.refuseWith = undefined
    const second = await fake.nextSubscription()
    second.ready()
    await vi.waitFor(() => expect(status().state).toBe('connected'), { timeout: 8_000 })
    expect(await statusOf(verifier, jwt)).toBe(200)
  }, 20_000)

  it('waits for the first ready a few seconds, then answers 503', async () => {
    const { fake, verifier, status } = await setUp({ readyTimeoutSeconds: 0.5 })
    const stream = await fake.nextSubscription()
    const jwt = await token(fake, { sub: 'alice', sid: 's' })
    const started = Date.now()
    expect(await statusOf(verifier, jwt)).toBe(503)
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    // Past the deadline, at once rather than after another wait.
    const again = Date.now()
    expect(await statusOf(verifier, jwt)).toBe(503)
    expect(Date.now() - again).toBeLessThan(200)
    stream.ready()
    await vi.waitFor(() => expect(status().state).toBe('connected'))
    expect(await statusOf(verifier, jwt)).toBe(200)
  })

  it('surfaces refused credentials: 503 at once, the error exposed, never the secret', async () => {
    const { fake, verifier, errors, status } = await setUp({ clientSecret: 'wrong-secret' })
    const jwt = await token(fake, { sub: 'alice', sid: 's' })
    const started = Date.now()
    expect(await statusOf(verifier, jwt)).toBe(503)
    expect(Date.now() - started).toBeLessThan(2_000)
    const now = status()
    expect(now).toMatchObject({ mode: 'events', state: 'refused' })
    expect(now.lastError).toMatch(
      /refused the client credentials .*HTTP 401.*check clientId and clientSecret/,
    )
    expect(errors).toHaveLength(1)
    expect(JSON.stringify(now) + errors.map(String).join()).not.toContain('wrong-secret')
  })

  it('forgets the oldest entries beyond maxEntries', async () => {
    const { fake, verifier, status } = await setUp({ maxEntries: 3 })
    const stream = await fake.nextSubscription()
    for (const n of [1, 2, 3, 4, 5])
      stream.send('session_ended', { sid: `s${n}`, sub: 'alice', ...times(nowS() + n) }, n)
    stream.ready()
    await vi.waitFor(() => expect(status().state).toBe('connected'))
    expect(status()).toMatchObject({ entries: 3, evicted: 2 })
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 's5' }))).toBe(401)
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 's1' }))).toBe(200)
  })

  it('close() ends the stream; verifications then answer 503', async () => {
    const { fake, verifier, status } = await setUp()
    const stream = await fake.nextSubscription()
    stream.ready()
    await verifier.close()
    await stream.closed
    expect(status().state).toBe('closed')
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 's' }))).toBe(503)
  })
})

describe('the Fastify adapter', () => {
  it('closes a verifier it created with the app, ending its revocation stream', async () => {
    const fake = await fakeGatehouse()
    cleanups.push(fake.close)
    const app = Fastify()
    const verifier = createGatehouseVerifierFor(app, {
      issuer: fake.issuer,
      secret: SECRET,
      revocation: { mode: 'events', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    })
    const stream = await fake.nextSubscription()
    stream.ready()
    await app.ready()
    await app.close()
    await stream.closed
    expect(verifier.status()).toMatchObject({ mode: 'events', state: 'closed' })
  })
})
