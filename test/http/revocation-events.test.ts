// GET /events/revocations over real sockets: what one instance changes reaches the stream another
// instance serves (sharing the SQLite file or the PostgreSQL schema), a client removed or re-keyed on
// one instance loses its streams on the other, resume points lose nothing, and the protocol's edges
// (no header, bad header, bad client, heartbeat, slow reader, caps, close).
import { connect, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import type { RevocationEventOptions } from '../../src/services/events/revocation-events.js'
import type { NewSession } from '../../src/store/contract.js'
import { build, captureLogs, TEST_ACTOR, tempDir, type TestApp } from '../helper.js'
import { dataOf, openEventStream, type StreamEvent } from '../support/event-stream.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'

const PASSWORD = 'correct horse battery'
const TTL_SECONDS = 30 * 60
const LEEWAY_SECONDS = 30

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

const sidOf = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid

interface Database_ {
  url: string | undefined
  /** Runs SQL on the shared database as another program would. */
  sql(text: string): Promise<void>
}

async function sqliteDatabase(dir: string): Promise<Database_> {
  return {
    url: undefined,
    async sql(text) {
      const db = new Database(join(dir, 'users.db'))
      try {
        db.exec(text)
      } finally {
        db.close()
      }
    },
  }
}

async function postgresDatabase(): Promise<Database_> {
  const { url, schema, admin } = await freshSchema()
  return {
    url,
    async sql(text) {
      const client = await admin.connect()
      try {
        await client.query(`SET search_path TO ${schema}`)
        await client.query(text)
      } finally {
        await client.query('RESET search_path').catch(() => undefined)
        client.release()
      }
    },
  }
}

type DatabaseFactory = (dir: string) => Promise<Database_>

/** Instance `a` where users act, instance `b` serving the stream, on one database. */
async function twoInstances(
  database: DatabaseFactory,
  options: RevocationEventOptions & {
    logs?: ReturnType<typeof captureLogs>
    env?: Record<string, string>
  } = {},
) {
  const dir = tempDir()
  const db = await database(dir)
  const a = await build({ dir, databaseUrl: db.url })
  const { logs, env, ...streamOptions } = options
  const b = await build({
    dir,
    databaseUrl: db.url,
    env,
    logs: logs?.stream,
    revocationEvents: { pollMs: 20, ...streamOptions },
  })
  await b.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (b.app.server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}/events/revocations`
  await a.addUser({ username: 'alice', password: PASSWORD })
  const orders = await a.services.clients.add(
    {
      name: 'orders',
      confidential: true,
      grants: ['client_credentials'],
      resource: 'https://orders.example',
    },
    TEST_ACTOR,
  )
  const spa = await a.services.clients.add({ name: 'spa' }, TEST_ACTOR)
  const auth = basic(orders.client.client_id, orders.secret!)
  const open = (headers: Record<string, string> = {}) =>
    openEventStream(url, { authorization: auth, ...headers })
  const login = () => a.login('alice', PASSWORD)
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  const logout = async (token: string) => {
    const response = await a.app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
    expect(response.statusCode).toBe(204)
  }
  return { a, b, db, dir, port, url, auth, orders, spa, open, login, logout, bearer }
}

const ready = (received: StreamEvent[]) => received.some((e) => e.event === 'ready')

/** Resolves when the server ended the stream; rejects if it has not within `ms`. */
async function endsWithin(stream: { ended: Promise<void> }, ms = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    stream.ended,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the stream was still open after ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
/** The events before `ready`: the backlog. */
const backlogOf = (received: StreamEvent[]) =>
  received
    .slice(
      0,
      received.findIndex((e) => e.event === 'ready'),
    )
    .filter((e) => e.event)
const endedSids = (events: StreamEvent[]) =>
  events.filter((e) => e.event === 'session_ended').map((e) => dataOf<{ sid: string }>(e).sid)

function session(userId: number, id: string): NewSession {
  return {
    id,
    userId,
    scope: ['me'],
    createdAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
    userAgent: null,
    ip: null,
    refreshTokenHash: `r-${id}`,
  }
}

function crossInstanceCases(name: string, database: DatabaseFactory) {
  describe(`GET /events/revocations across instances (${name})`, () => {
    it('publishes a logout, a logout everywhere, a scope change, a disable and a removal made on another instance', async () => {
      const t = await twoInstances(database)
      const stream = await t.open()
      expect(stream.status).toBe(200)
      expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8')
      expect(stream.headers['cache-control']).toBe('no-store')
      expect(stream.headers['x-accel-buffering']).toBe('no')
      await stream.until(ready)
      expect(stream.received[0]).toMatchObject({ retry: '1000' })
      expect(dataOf(stream.events('ready')[0]!)).toEqual({ heartbeat: 15 })
      const seen = (kind: string, matches: (data: Record<string, unknown>) => boolean) =>
        stream.until((received) => received.some((e) => e.event === kind && matches(dataOf(e))))

      const [one, two, three] = [await t.login(), await t.login(), await t.login()]
      const before = Math.floor(Date.now() / 1000)
      await t.logout(one)
      await seen('session_ended', (data) => data.sid === sidOf(one))
      const ended = dataOf<{ at: number }>(stream.events('session_ended')[0]!)
      expect(ended).toEqual({
        sid: sidOf(one),
        sub: 'alice',
        at: ended.at,
        until: ended.at + TTL_SECONDS + LEEWAY_SECONDS,
      })
      expect(ended.at).toBeGreaterThanOrEqual(before - 1)
      expect(ended.at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1)
      expect(Number.isInteger(ended.at)).toBe(true)

      const everywhere = await t.a.app.inject({
        method: 'POST',
        url: '/users/me/sessions/revoke-all',
        headers: t.bearer(two),
      })
      expect(everywhere.statusCode).toBe(204)
      await seen('user_sessions_ended', (data) => data.sub === 'alice')
      expect(endedSids(stream.events()).sort()).toEqual(
        [sidOf(one), sidOf(two), sidOf(three)].sort(),
      )
      const all = dataOf(stream.events('user_sessions_ended')[0]!)
      expect(Object.keys(all).sort()).toEqual(['at', 'sub', 'until'])

      await t.a.services.accounts.setScopes('alice', ['me'], TEST_ACTOR)
      await seen('user_changed', (data) => data.sub === 'alice')
      const four = await t.login()
      await t.a.services.accounts.setDisabled('alice', true, TEST_ACTOR)
      await seen('session_ended', (data) => data.sid === sidOf(four))
      await stream.until((r) => r.filter((e) => e.event === 'user_changed').length === 2)
      await t.a.services.accounts.remove('alice', TEST_ACTOR)
      await seen('user_removed', (data) => data.sub === 'alice')

      // Every event has a resume point, and they never decrease.
      const ids = stream.events().filter((e) => e.event !== 'ready')
      expect(ids.every((e) => /^\d+$/.test(e.id ?? ''))).toBe(true)
      const points = ids.map((e) => Number(e.id))
      expect(points).toEqual([...points].sort((x, y) => x - y))
    })

    it('ends the streams of a client whose secret is rotated or which is removed on another instance', async () => {
      const t = await twoInstances(database)
      const billing = await t.a.services.clients.add(
        {
          name: 'billing',
          confidential: true,
          grants: ['client_credentials'],
          resource: 'https://billing.example',
        },
        TEST_ACTOR,
      )
      const billingStream = await openEventStream(t.url, {
        authorization: basic(billing.client.client_id, billing.secret!),
      })
      const [first, second] = [await t.open(), await t.open()]
      await Promise.all([first, second, billingStream].map((stream) => stream.until(ready)))
      expect(t.b.services.revocationEvents.stats.subscribers).toBe(3)

      const id = t.orders.client.client_id
      const secret = await t.a.services.clients.rotateSecret(id, TEST_ACTOR)
      await endsWithin(first)
      await endsWithin(second)
      expect(first.events().map((e) => e.event)).toEqual(['ready'])
      await expect.poll(() => t.b.services.revocationEvents.stats.subscribers).toBe(1)
      // The old secret opens nothing any more; the new one does.
      const stale = await t.b.app.inject({
        method: 'GET',
        url: '/events/revocations',
        headers: { authorization: t.auth },
      })
      expect(stale.statusCode).toBe(401)
      expect(stale.json()).toMatchObject({ error: 'invalid_client' })
      const renewed = await openEventStream(t.url, { authorization: basic(id, secret) })
      await renewed.until(ready)

      // The other client's stream carries on, and is told nothing of it.
      const token = await t.login()
      await t.logout(token)
      await billingStream.until((r) => endedSids(r).includes(sidOf(token)))
      expect(billingStream.events().map((e) => e.event)).toEqual([
        'ready',
        'session_ended',
        'user_sessions_ended',
      ])

      await t.a.services.clients.remove(id, TEST_ACTOR)
      await endsWithin(renewed)
      await expect.poll(() => t.b.services.revocationEvents.stats.subscribers).toBe(1)
      const gone = await t.b.app.inject({
        method: 'GET',
        url: '/events/revocations',
        headers: { authorization: basic(id, secret) },
      })
      expect(gone.statusCode).toBe(401)
    })

    it('resumes after Last-Event-ID with exactly what was missed', async () => {
      const t = await twoInstances(database)
      const [one, two, three] = [await t.login(), await t.login(), await t.login()]
      const first = await t.open()
      await first.until(ready)
      await t.logout(one)
      await first.until((r) => endedSids(r).includes(sidOf(one)))
      const last = first.events().at(-1)!.id!
      first.close()

      await t.logout(two)
      await t.logout(three)
      const second = await t.open({ 'last-event-id': last })
      await second.until(ready)
      const backlog = backlogOf(second.received)
      expect(endedSids(backlog).sort()).toEqual([sidOf(two), sidOf(three)].sort())
      expect(backlog.map((e) => e.event)).toEqual([
        'session_ended',
        'session_ended',
        'user_sessions_ended',
      ])
    })

    it('loses nothing across reconnects while sessions end', async () => {
      const t = await twoInstances(database)
      const alice = (await t.a.store.findUserByUsername('alice'))!
      const sids = Array.from({ length: 40 }, (_, i) => `s${i}`)
      for (const sid of sids) await t.a.store.createSession(session(alice.id, sid))
      const writing = (async () => {
        for (const sid of sids) {
          await t.a.store.revokeSession(sid, Date.now())
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      })()

      const received = new Set<string>()
      let last: string | undefined
      let reconnects = 0
      while (received.size < sids.length) {
        const stream = await t.open(last === undefined ? {} : { 'last-event-id': last })
        // Read a few events, then drop the connection, as a flaky network would.
        await stream
          .until((r) => r.filter((e) => e.event === 'session_ended').length >= 3, 300)
          .catch(() => undefined)
        stream.close()
        for (const sid of endedSids(stream.received)) received.add(sid)
        last = stream.received.filter((e) => e.id !== undefined).at(-1)?.id ?? last
        reconnects++
        expect(reconnects).toBeLessThan(200)
      }
      await writing
      expect([...received].sort()).toEqual([...sids].sort())
      expect(reconnects).toBeGreaterThan(3)
    })
  })
}

crossInstanceCases('SQLite', sqliteDatabase)
describe.skipIf(skipPostgres)('on PostgreSQL', () => {
  crossInstanceCases('PostgreSQL', () => postgresDatabase())

  it('carries a logout to another instance’s stream quickly (p50 / p99 over 50 logouts)', async () => {
    const t = await twoInstances(() => postgresDatabase())
    const tokens: string[] = []
    for (let i = 0; i < 50; i++) tokens.push(await t.login())
    const stream = await t.open()
    await stream.until(ready)
    const latencies: number[] = []
    for (const token of tokens) {
      const sid = sidOf(token)
      const start = performance.now()
      await t.logout(token)
      await stream.until((r) => endedSids(r).includes(sid))
      const event = stream.events('session_ended').find((e) => dataOf(e).sid === sid)!
      latencies.push(event.receivedAt - start)
    }
    latencies.sort((x, y) => x - y)
    const p50 = latencies[Math.floor(latencies.length * 0.5)]!
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!
    console.log(
      `revocation events, PostgreSQL, logout on one instance -> event on another: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (50 logouts)`,
    )
    expect(p99).toBeLessThan(1_000)
  })
})

describe('GET /events/revocations (protocol edges, SQLite)', () => {
  it('starts without Last-Event-ID with the events whose until has not passed', async () => {
    const t = await twoInstances(sqliteDatabase)
    const alice = (await t.a.store.findUserByUsername('alice'))!
    for (const sid of ['old', 'recent', 'keep'])
      await t.a.store.createSession(session(alice.id, sid))
    await t.a.store.revokeSession('old', Date.now())
    // Older than a token lifetime and the leeway: no token it concerns can still pass.
    const past = (TTL_SECONDS + LEEWAY_SECONDS + 5) * 1000
    await t.db.sql(`UPDATE gatehouse_changes SET at = at - ${past} WHERE session_id = 'old'`)
    await t.a.store.revokeSession('recent', Date.now())

    const fresh = await t.open()
    await fresh.until(ready)
    expect(endedSids(backlogOf(fresh.received))).toEqual(['recent'])
    // From a resume point, every event after it, however old.
    const all = await t.open({ 'last-event-id': '0' })
    await all.until(ready)
    expect(endedSids(backlogOf(all.received))).toEqual(['old', 'recent'])
    // A point above the newest change (a restored database): as without the header.
    const restored = await t.open({ 'last-event-id': String(2 ** 53) })
    await restored.until(ready)
    expect(endedSids(backlogOf(restored.received))).toEqual(['recent'])
  })

  it('is documented in OpenAPI as an event stream with its error answers', async () => {
    const t = await twoInstances(sqliteDatabase)
    const doc = (await t.b.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>
      >
    }>()
    const responses = doc.paths['/events/revocations']?.get?.responses
    expect(Object.keys(responses?.['200']?.content ?? {})).toEqual(['text/event-stream'])
    expect(Object.keys(responses ?? {})).toEqual(expect.arrayContaining(['400', '401', '503']))
  })

  it('refuses a malformed Last-Event-ID with 400', async () => {
    const t = await twoInstances(sqliteDatabase)
    for (const value of ['abc', '-1', '1.5', '1e3', '0x10', String(2 ** 53 + 2), '1'.repeat(40)]) {
      const response = await t.b.app.inject({
        method: 'GET',
        url: '/events/revocations',
        headers: { authorization: t.auth, 'last-event-id': value },
      })
      expect(response.statusCode, value).toBe(400)
      expect(response.json<{ detail: string }>().detail).toMatch(/Last-Event-ID/)
      expect(response.json()).toMatchObject({ error: 'invalid_request' })
    }
  })

  it('answers 401 invalid_client with a Basic challenge to no, bad or public client credentials', async () => {
    const t = await twoInstances(sqliteDatabase)
    const token = await t.login()
    const answers = [
      {},
      { authorization: basic(t.orders.client.client_id, 'wrong') },
      { authorization: basic('nobody', 'secret') },
      { authorization: basic(t.spa.client.client_id, '') },
      { authorization: `Bearer ${token}` },
      { authorization: 'Basic !!!' },
    ]
    for (const headers of answers) {
      const response = await t.b.app.inject({ method: 'GET', url: '/events/revocations', headers })
      expect(response.statusCode, JSON.stringify(headers)).toBe(401)
      expect(response.headers['www-authenticate']).toMatch(/^Basic/)
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
      // RFC 6749 §5.2's fields, and FastAPI's `detail` beside them.
      const body = response.json<{ detail: string }>()
      expect(body).toMatchObject({ error: 'invalid_client', error_description: body.detail })
    }
    // Failures are audited like those at /introspect, never with the secret.
    const audit = await t.a.store.listAudit({ limit: 20 })
    expect(audit.some((event) => event.outcome === 'bad_client_credentials')).toBe(true)
    expect(JSON.stringify(audit)).not.toContain('wrong')
  })

  it('answers 401 invalid_client to a confidential client that is no resource server', async () => {
    const t = await twoInstances(sqliteDatabase)
    const login = await t.a.services.clients.add({ name: 'login', confidential: true }, TEST_ACTOR)
    const response = await t.b.app.inject({
      method: 'GET',
      url: '/events/revocations',
      headers: { authorization: basic(login.client.client_id, login.secret!) },
    })
    expect(response.statusCode).toBe(401)
    expect(response.json()).toMatchObject({ error: 'invalid_client' })
    expect(response.headers['www-authenticate']).toMatch(/^Basic/)
  })

  it('sends a heartbeat when nothing else was sent', async () => {
    const t = await twoInstances(sqliteDatabase, { heartbeatMs: 100 })
    const stream = await t.open()
    await stream.until(ready)
    expect(dataOf(stream.events('ready')[0]!)).toEqual({ heartbeat: 0.1 })
    await stream.until((r) => r.filter((e) => e.comment === 'heartbeat').length >= 2, 2_000)
    const [first, second] = stream.received.filter((e) => e.comment === 'heartbeat')
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(80)
  })

  it('cuts off a subscriber that does not read, with bounded buffering', async () => {
    const logs = captureLogs()
    const limit = 64 * 1024
    const t = await twoInstances(sqliteDatabase, {
      maxUnsentBytes: limit,
      logs,
      env: { METRICS: 'true' },
    })
    // A client that sends its request and then never reads.
    const socket = connect(t.port, '127.0.0.1')
    socket.pause()
    socket.write(`GET /events/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: ${t.auth}\r\n\r\n`)
    await expect.poll(() => t.b.services.revocationEvents.stats.subscribers).toBe(1)
    const rssBefore = process.memoryUsage().rss
    // Another program ends sessions in bulk: 60 000 events, ~10 MB of stream.
    const rows = 2_000
    const padding = 'x'.repeat(64)
    for (let batch = 0; batch < 30 && t.b.services.revocationEvents.stats.cutOff === 0; batch++) {
      await t.db
        .sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
        INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
        SELECT ${Date.now()}, 'session_ended', 1, 'alice', '${padding}' || ${batch} || '-' || i FROM n`)
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    await expect
      .poll(() => t.b.services.revocationEvents.stats, { timeout: 5_000 })
      .toEqual({
        subscribers: 0,
        cutOff: 1,
      })
    const rssGrowth = process.memoryUsage().rss - rssBefore
    const metrics = await t.b.app.metrics!.registry.metrics()
    expect(metrics).toMatch(/^gatehouse_revocation_subscribers_cut_off_total 1$/m)
    expect(metrics).toMatch(/^gatehouse_revocation_subscribers 0$/m)
    const line = logs
      .text()
      .split('\n')
      .find((text) => text.includes('cut off'))
    expect(line).toBeDefined()
    const logged = JSON.parse(line!) as {
      level: number
      clientId: string
      unsentBytes: number
      refusedBytes: number
    }
    expect(logged.level).toBe(40)
    expect(logged.clientId).toBe(t.orders.client.client_id)
    // Never more than the limit was held for it, though one delivery of 2 000 events passes it 6x:
    // it was cut off at the page that would have crossed it.
    expect(logged.unsentBytes).toBeLessThanOrEqual(limit)
    expect(logged.unsentBytes + logged.refusedBytes).toBeGreaterThan(limit)
    expect(logged.refusedBytes).toBeLessThanOrEqual(16 * 1024 + 200)

    // The server ended the connection: reading now drains what the kernel held, then the end.
    let bytes = 0
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length))
    const closed = new Promise((resolve) => socket.on('close', resolve))
    socket.on('error', () => undefined)
    socket.resume()
    await closed
    console.log(
      `slow subscriber cut off holding ${logged.unsentBytes} bytes; it received ${bytes} bytes in all; RSS grew ${(rssGrowth / 1e6).toFixed(1)} MB`,
    )
  })

  it('refuses subscribers beyond the cap with 503 and Retry-After', async () => {
    const t = await twoInstances(sqliteDatabase, { maxSubscribers: 2 })
    const streams = [await t.open(), await t.open()]
    await Promise.all(streams.map((stream) => stream.until(ready)))
    const refused = await t.b.app.inject({
      method: 'GET',
      url: '/events/revocations',
      headers: { authorization: t.auth },
    })
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe('5')
    expect(refused.json<{ detail: string }>().detail).toMatch(/subscribers/)
    expect(refused.json()).toMatchObject({ error: 'temporarily_unavailable' })
    streams[0]!.close()
    await expect.poll(() => t.b.services.revocationEvents.stats.subscribers).toBe(1)
    const again = await t.open()
    expect(again.status).toBe(200)
  })

  it('refuses a client more streams than its cap with 429 and Retry-After, other clients not', async () => {
    const t = await twoInstances(sqliteDatabase, { maxSubscribersPerClient: 2 })
    const streams = [await t.open(), await t.open()]
    await Promise.all(streams.map((stream) => stream.until(ready)))
    const refused = await t.b.app.inject({
      method: 'GET',
      url: '/events/revocations',
      headers: { authorization: t.auth },
    })
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('5')
    expect(refused.headers['content-type']).toBe('application/json; charset=utf-8')
    const body = refused.json<{ detail: string; error: string; error_description: string }>()
    expect(body.detail).toBe(
      'This client has 2 revocation event streams open on this instance, the most it may; end one first',
    )
    expect(body).toMatchObject({ error: 'slow_down', error_description: body.detail })
    // Nothing was charged to its authentication: the client is not throttled for it.
    const audit = await t.a.store.listAudit({ limit: 20 })
    expect(audit.some((event) => event.outcome === 'bad_client_credentials')).toBe(false)

    const billing = await t.a.services.clients.add(
      {
        name: 'billing',
        confidential: true,
        grants: ['client_credentials'],
        resource: 'https://billing.example',
      },
      TEST_ACTOR,
    )
    const other = await openEventStream(t.url, {
      authorization: basic(billing.client.client_id, billing.secret!),
    })
    expect(other.status).toBe(200)
    streams[0]!.close()
    await expect.poll(() => t.b.services.revocationEvents.stats.subscribers).toBe(2)
    const again = await t.open()
    expect(again.status).toBe(200)
  })

  it('ends every stream when the app closes, without hanging', async () => {
    const t = await twoInstances(sqliteDatabase)
    const reading = await t.open()
    await reading.until(ready)
    const stalled = connect(t.port, '127.0.0.1')
    stalled.pause()
    stalled.on('error', () => undefined)
    stalled.write(`GET /events/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: ${t.auth}\r\n\r\n`)
    await expect.poll(() => t.b.services.revocationEvents.stats.subscribers).toBe(2)
    const start = performance.now()
    await closeWithin(t.b, 5_000)
    expect(performance.now() - start).toBeLessThan(5_000)
    await reading.ended
    expect(t.b.services.revocationEvents.stats.subscribers).toBe(0)
  })
})

async function closeWithin(t: TestApp, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    t.app.close(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`app.close() still pending after ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
