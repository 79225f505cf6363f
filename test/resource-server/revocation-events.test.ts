// The kit's `events` revocation mode against a small fake Gatehouse (node:http, EdDSA keys of the
// test's own) that the test drives: the backlog and `ready`, what each kind of event refuses (and what
// it must not), the one introspection after a user changed, failing closed beyond maxEntries, resuming
// with Last-Event-ID, a silent connection taken for dead (on a fake clock), the stale window then 503,
// refused credentials, close() (and the Fastify adapter's).
import Fastify from 'fastify'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createGatehouseVerifierFor } from '../../packages/kit/src/fastify.js'
import {
  createGatehouseVerifier,
  type AccessOptions,
  type GatehouseVerifier,
  type RevocationEventsOptions,
  type RevocationEventsStatus,
} from '../../packages/kit/src/verify.js'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  fakeGatehouse,
  nowS,
  signToken,
  tappedFetch,
  type FakeGatehouse,
  type TokenClaims,
} from '../support/fake-gatehouse.js'

const token = (fake: FakeGatehouse, claims: TokenClaims) => signToken(fake, claims)

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setUp(
  options: Partial<RevocationEventsOptions> = {},
  doFetch: typeof fetch = fetch,
) {
  const fake = await fakeGatehouse()
  cleanups.push(fake.close)
  const errors: Error[] = []
  const verifier = createGatehouseVerifier({
    issuer: fake.issuer,
    fetch: doFetch,
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
async function statusOf(
  verifier: GatehouseVerifier,
  jwt: string,
  scopes: string[] = [],
  access: AccessOptions = {},
) {
  try {
    await verifier.verify(jwt, scopes, access)
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

  it('verifies tokens of an HS256 Gatehouse by introspection, yet refuses an ended session at once', async () => {
    const { fake, verifier, errors, status } = await setUp()
    fake.signsWithSecret = true
    const stream = await fake.nextSubscription()
    stream.ready()
    const jwt = await signToken(fake, { sub: 'alice', sid: 'hs-sid' }, 'HS256')
    expect(await statusOf(verifier, jwt, ['items'])).toBe(200)
    expect(await statusOf(verifier, jwt, ['items'])).toBe(200)
    // Gatehouse's answer is reused for a few seconds ...
    expect(fake.introspected).toEqual([jwt])
    // ... but the stream still ends the session at once.
    stream.send('session_ended', { sid: 'hs-sid', sub: 'alice', ...times(nowS()) }, 9)
    await vi.waitFor(() => expect(status().lastEventId).toBe('9'))
    expect(await statusOf(verifier, jwt)).toBe(401)
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringContaining('verified by introspection'),
    ])
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

  describe('on a fake clock', () => {
    // Only the timers are faked: sockets, and the clock that token times are checked with, stay real.
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it('takes a silent connection for dead after 2 x heartbeat + 5 s and reconnects', async () => {
      const { fake, verifier, errors } = await setUp()
      const first = await fake.nextSubscription()
      first.send('user_removed', { sub: 'erin', ...times(nowS()) }, 3)
      first.ready(0.5)
      // Passing proves `ready` was read, which armed the silence timer at 2 x 0.5 s + 5 s.
      expect(await statusOf(verifier, await token(fake, { sub: 'frank', sid: 'f' }))).toBe(200)
      // The server keeps the socket open but sends nothing, not even `: heartbeat`.
      await vi.advanceTimersByTimeAsync(5_999)
      expect(errors).toEqual([])
      const second = fake.nextSubscription()
      await vi.advanceTimersByTimeAsync(1)
      expect(errors.map((error) => error.message)).toEqual([
        'the revocation stream was silent for 6 s',
      ])
      await first.closed
      // Reconnected after the backoff (at most 0.5 s for a first attempt), resuming after id 3.
      await vi.advanceTimersByTimeAsync(500)
      expect((await second).lastEventId).toBe('3')
    })

    it('keeps heartbeats as proof of life', async () => {
      const tap = tappedFetch()
      const { fake, status, errors } = await setUp({}, tap.fetch)
      const stream = await fake.nextSubscription()
      const readyRead = tap.nextChunk()
      stream.ready(0.2)
      await readyRead
      // 5.4 s of silence would be a dead connection: a heartbeat every 0.2 s over 6 s keeps it.
      for (let elapsed = 0; elapsed < 6_000; elapsed += 200) {
        await vi.advanceTimersByTimeAsync(200)
        const read = tap.nextChunk()
        stream.heartbeat()
        await read
      }
      expect(errors).toEqual([])
      expect(status().state).toBe('connected')
      // And without them it is taken for dead on time: the test can tell.
      await vi.advanceTimersByTimeAsync(5_400)
      expect(errors.map((error) => error.message)).toEqual([
        'the revocation stream was silent for 5 s',
      ])
    })
  })

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
    // A client's own token has no session to end: trusted until it expires, where clients are allowed.
    const clientToken = await token(fake, { sub: CLIENT_ID, client_id: CLIENT_ID })
    expect(await statusOf(verifier, clientToken, [], { allowClients: true })).toBe(200)
    expect(await statusOf(verifier, clientToken)).toBe(401)

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

  it('fails closed beyond maxEntries: a token older than an evicted entry is introspected once', async () => {
    const { fake, verifier, status } = await setUp({ maxEntries: 3 })
    const stream = await fake.nextSubscription()
    const at = nowS() - 10
    for (const n of [1, 2, 3, 4, 5])
      stream.send('session_ended', { sid: `s${n}`, sub: 'alice', ...times(at + n) }, n)
    stream.ready()
    await vi.waitFor(() => expect(status().state).toBe('connected'))
    expect(status()).toMatchObject({ entries: 3, evicted: 2 })
    expect(await statusOf(verifier, await token(fake, { sub: 'alice', sid: 's5' }))).toBe(401)
    // s1 was forgotten: its token is not trusted again, but asked about (Gatehouse says: ended).
    fake.introspection = () => ({ active: false })
    const evictedToken = await token(fake, { sub: 'alice', sid: 's1', iat: at })
    expect(await statusOf(verifier, evictedToken)).toBe(401)
    expect(await statusOf(verifier, evictedToken)).toBe(401)
    expect(fake.introspected).toEqual([evictedToken])
    // A token issued after the newest forgotten entry is decided in memory, as before.
    const newer = await token(fake, { sub: 'alice', sid: 'fresh', iat: at + 3 })
    expect(await statusOf(verifier, newer)).toBe(200)
    expect(fake.introspected).toEqual([evictedToken])
  })

  it('beyond maxEntries answers 503 for an older token when Gatehouse cannot be asked', async () => {
    const { fake, verifier, status } = await setUp({ maxEntries: 3 })
    const stream = await fake.nextSubscription()
    const at = nowS() - 10
    for (const n of [1, 2, 3, 4])
      stream.send('session_ended', { sid: `s${n}`, sub: 'alice', ...times(at + n) }, n)
    stream.ready()
    await vi.waitFor(() => expect(status().state).toBe('connected'))
    fake.introspectionFails = true
    const older = await token(fake, { sub: 'bob', sid: 'b1', iat: at })
    expect(await statusOf(verifier, older)).toBe(503)
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
