// The revocation event streams over a feed whose ids commit out of order (as on PostgreSQL): resume
// points never pass an id still to commit, a joining subscriber gets each change once, a subscriber
// that stops reading is cut off before its unsent output passes the bound, a removed or changed
// client's streams end, and streams are capped per client.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { DatabaseUnavailable, InvalidClient, TooManyStreams } from '../../../src/errors.js'
import {
  createRevocationEvents,
  DEFAULT_MAX_SUBSCRIBERS_PER_CLIENT,
  DEFAULT_MAX_UNSENT_BYTES,
  type EventSink,
  type RevocationEventDeps,
} from '../../../src/services/events/revocation-events.js'
import { createChangePump, type ChangePump } from '../../../src/store/change-pump.js'
import type { Change } from '../../../src/store/contract.js'

const log = { info: () => undefined, warn: () => undefined }

/** A feed whose rows a test commits in any id order. */
function fakeFeed() {
  const rows: Change[] = []
  const pumps: ChangePump[] = []
  const changesSince = async (afterId: number, limit: number) =>
    rows.filter((row) => row.id > afterId).slice(0, limit)
  const store: RevocationEventDeps['store'] = {
    changesSince,
    latestChangeId: async () => rows.reduce((max, row) => Math.max(max, row.id), 0),
    changeIdBefore: async (at) =>
      rows.filter((row) => row.at < at).reduce((max, row) => Math.max(max, row.id), 0),
    async subscribeChanges(listener, onGap, options) {
      const pump = createChangePump({
        changesSince: (afterId, limit) => store.changesSince(afterId, limit),
        afterId: options?.afterId ?? 0,
        listener,
        onGap,
      })
      pumps.push(pump)
      return {
        get live() {
          return pump.live
        },
        get cursor() {
          return pump.cursor
        },
        delivered: () => pump.delivered(),
        catchUp: () => pump.pull(),
        pending: () => false,
        close: async () => undefined,
      }
    },
  }
  return {
    store,
    pumps,
    /** Commits session_ended rows with these ids, and lets the feed read them. */
    async commit(...ids: number[]) {
      for (const id of ids)
        rows.push({
          id,
          at: Date.now(),
          kind: 'session_ended',
          userId: 1,
          username: 'alice',
          sessionId: `s${id}`,
          clientId: null,
        })
      rows.sort((a, b) => a.id - b.id)
      for (const pump of pumps) await pump.pull()
    },
    /** Commits a client_changed row (the client removed, or its secret rotated). */
    async changeClient(id: number, clientId: string) {
      rows.push({
        id,
        at: Date.now(),
        kind: 'client_changed',
        userId: null,
        username: null,
        sessionId: null,
        clientId,
      })
      rows.sort((a, b) => a.id - b.id)
      for (const pump of pumps) await pump.pull()
    },
  }
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)

/**
 * A sink that keeps what is written; `writableLength` is what a test says the socket holds, or, for
 * a receiver that does not read, everything written since the last `drain()`.
 */
function fakeSink({ reading = true }: { reading?: boolean } = {}) {
  const emitter = new EventEmitter()
  let text = ''
  const writes: number[] = []
  let mostUnsent = 0
  const sink: EventSink & { writableLength: number; destroyed: boolean } = {
    writableLength: 0,
    destroyed: false,
    write(chunk: string) {
      text += chunk
      if (text.includes('event: ready')) emitter.emit('ready')
      const bytes = Buffer.byteLength(chunk)
      writes.push(bytes)
      if (!reading) sink.writableLength += bytes
      mostUnsent = Math.max(mostUnsent, sink.writableLength)
      // As a socket: false once its buffer holds 16 KiB (a 'drain' follows when it empties).
      return sink.writableLength < 16 * 1024
    },
    once(event: 'drain' | 'close', listener: () => void) {
      emitter.once(event, listener)
      return sink
    },
    end() {
      sink.destroy()
    },
    destroy() {
      if (sink.destroyed) return
      sink.destroyed = true
      emitter.emit('close')
    },
  }
  const events = () =>
    text
      .split('\n\n')
      .filter((block) => block.startsWith('id:'))
      .map((block) => {
        const [id, , data] = block.split('\n')
        return {
          id: Number(id!.slice(4)),
          sid: (JSON.parse(data!.slice(6)) as { sid: string }).sid,
        }
      })
  /** Resolves once the stream has said `ready`: the subscriber has joined the live feed. */
  const ready = (): Promise<void> =>
    text.includes('event: ready')
      ? Promise.resolve()
      : new Promise((resolve) => emitter.once('ready', resolve))
  return {
    sink,
    events,
    ready,
    text: () => text,
    /** The size of each write. */
    writes,
    /** The most the sink ever held unsent. */
    mostUnsent: () => mostUnsent,
    /** The receiver takes everything held. */
    drain() {
      sink.writableLength = 0
      emitter.emit('drain')
    },
  }
}

describe('revocation events', () => {
  it('never gives a resume point past an id still to commit, and resuming from any loses nothing', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({ store: feed.store, log, accessTokenTtlSeconds: 1800 })
    const first = fakeSink()
    ;(await events.subscribe({ clientId: 'rs' })).attach(first.sink)
    await first.ready()
    // 2 is taken but not yet committed when 1 and 3 are.
    await feed.commit(1, 3)
    await feed.commit(2)
    await feed.commit(4)
    expect(first.events()).toEqual([
      { id: 1, sid: 's1' },
      { id: 1, sid: 's3' },
      { id: 3, sid: 's2' },
      { id: 4, sid: 's4' },
    ])
    // Each id received is a point from which a reconnecting client gets all it had not seen.
    for (const [index, { id }] of first.events().entries()) {
      const again = fakeSink()
      ;(await events.subscribe({ clientId: 'rs', lastEventId: id })).attach(again.sink)
      await again.ready()
      const missed = first
        .events()
        .slice(index + 1)
        .map((e) => e.sid)
      expect(again.events().map((e) => e.sid)).toEqual(expect.arrayContaining(missed))
    }
    await events.close()
  })

  it('gives a joining subscriber each change once: the backlog, ready, then what came meanwhile', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({ store: feed.store, log, accessTokenTtlSeconds: 1800 })
    // The feed opens at the first subscriber; a second joins after changes, some still committing.
    ;(await events.subscribe({ clientId: 'a' })).attach(fakeSink().sink)
    await feed.commit(1, 2, 4)
    const stream = await events.subscribe({ clientId: 'rs', lastEventId: 0 })
    await feed.commit(3, 5)
    const joined = fakeSink()
    stream.attach(joined.sink)
    await joined.ready()
    await feed.commit(6)
    expect(joined.events().map((e) => e.sid)).toEqual(['s1', 's2', 's4', 's3', 's5', 's6'])
    expect(joined.text().indexOf('event: ready')).toBeLessThan(joined.text().indexOf('s3'))
    expect(joined.text().indexOf('event: ready')).toBeGreaterThan(joined.text().indexOf('s4'))
    await events.close()
  })

  it('cuts off a subscriber whose unsent output passes the limit', async () => {
    const feed = fakeFeed()
    let cutOff = 0
    const events = createRevocationEvents({
      store: feed.store,
      log,
      accessTokenTtlSeconds: 1800,
      maxUnsentBytes: 1_000,
      onCutOff: () => cutOff++,
    })
    const slow = fakeSink()
    ;(await events.subscribe({ clientId: 'rs' })).attach(slow.sink)
    await slow.ready()
    await feed.commit(1)
    expect(slow.sink.destroyed).toBe(false)
    slow.sink.writableLength = 1_001
    await feed.commit(2)
    expect(slow.sink.destroyed).toBe(true)
    expect(events.stats).toEqual({ subscribers: 0, cutOff: 1 })
    expect(cutOff).toBe(1)
    await events.close()
  })

  it('ends the streams when the feed is lost, and refuses new ones until it is back', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({ store: feed.store, log, accessTokenTtlSeconds: 1800 })
    const stream = fakeSink()
    ;(await events.subscribe({ clientId: 'rs' })).attach(stream.sink)
    await stream.ready()
    feed.pumps[0]!.down(new Error('connection lost'))
    expect(stream.sink.destroyed).toBe(true)
    // subscribe() catches the feed up first: a failing read keeps it down.
    const failing = feed.store.changesSince
    feed.store.changesSince = async () => {
      throw new Error('database away')
    }
    await expect(events.subscribe({ clientId: 'rs' })).rejects.toBeInstanceOf(DatabaseUnavailable)
    feed.store.changesSince = failing
    await feed.commit(1)
    expect(events.stats.subscribers).toBe(0)
    await expect(events.subscribe({ clientId: 'rs' })).resolves.toBeDefined()
    await events.close()
  })

  it('keeps a subscriber that does not read within the bound, even for one delivery of 10 000 changes', async () => {
    const feed = fakeFeed()
    const warnings: { unsentBytes: number; refusedBytes: number }[] = []
    const events = createRevocationEvents({
      store: feed.store,
      log: { info: () => undefined, warn: (fields: object) => void warnings.push(fields as never) },
      accessTokenTtlSeconds: 1800,
    })
    const stuck = fakeSink({ reading: false })
    ;(await events.subscribe({ clientId: 'rs' })).attach(stuck.sink)
    await stuck.ready()
    // A logout everywhere over many sessions: one delivery of about 1 MB of stream.
    await feed.commit(...range(1, 10_000))
    expect(stuck.sink.destroyed).toBe(true)
    expect(stuck.mostUnsent()).toBeLessThanOrEqual(DEFAULT_MAX_UNSENT_BYTES)
    expect(stuck.mostUnsent()).toBeGreaterThan(DEFAULT_MAX_UNSENT_BYTES / 2)
    expect(events.stats).toEqual({ subscribers: 0, cutOff: 1 })
    const [cut] = warnings
    expect(cut!.unsentBytes).toBeLessThanOrEqual(DEFAULT_MAX_UNSENT_BYTES)
    expect(cut!.unsentBytes + cut!.refusedBytes).toBeGreaterThan(DEFAULT_MAX_UNSENT_BYTES)
    await events.close()
  })

  it('bounds what it holds for a subscriber still joining, and cuts it off past the bound', async () => {
    const feed = fakeFeed()
    const warnings: { unsentBytes: number; refusedBytes: number }[] = []
    const events = createRevocationEvents({
      store: feed.store,
      log: { info: () => undefined, warn: (fields: object) => void warnings.push(fields as never) },
      accessTokenTtlSeconds: 1800,
      maxUnsentBytes: 20_000,
    })
    const first = fakeSink()
    ;(await events.subscribe({ clientId: 'a' })).attach(first.sink)
    await first.ready()
    // Joined, not yet attached: what comes live meanwhile is held, never past the bound.
    const joining = await events.subscribe({ clientId: 'rs' })
    await feed.commit(...range(1, 1_000))
    expect(events.stats).toEqual({ subscribers: 1, cutOff: 1 })
    expect(warnings[0]!.unsentBytes).toBeLessThanOrEqual(20_000)
    const late = fakeSink()
    joining.attach(late.sink)
    expect(late.sink.destroyed).toBe(true)
    await events.close()
  })

  it('writes one large delivery in pages, all of it, to a subscriber that keeps up', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({ store: feed.store, log, accessTokenTtlSeconds: 1800 })
    const reader = fakeSink()
    ;(await events.subscribe({ clientId: 'rs' })).attach(reader.sink)
    await reader.ready()
    await feed.commit(...range(1, 10_000))
    expect(reader.sink.destroyed).toBe(false)
    expect(reader.events()).toHaveLength(10_000)
    expect(reader.writes.length).toBeGreaterThan(10)
    // A page is about 16 KiB: it closes with the event that reaches that size.
    expect(Math.max(...reader.writes)).toBeLessThan(16 * 1024 + 200)
    expect(events.stats.cutOff).toBe(0)
    await events.close()
  })

  it('sends a large backlog at the pace of its receiver, within the bound', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({ store: feed.store, log, accessTokenTtlSeconds: 1800 })
    ;(await events.subscribe({ clientId: 'a' })).attach(fakeSink().sink)
    await feed.commit(...range(1, 5_000))
    const slow = fakeSink({ reading: false })
    ;(await events.subscribe({ clientId: 'rs', lastEventId: 0 })).attach(slow.sink)
    // It reads a little now and then: the backlog waits for it, and is never cut off.
    for (let round = 0; round < 200 && !slow.text().includes('event: ready'); round++) {
      await new Promise((resolve) => setImmediate(resolve))
      slow.drain()
    }
    expect(slow.text()).toContain('event: ready')
    expect(slow.events()).toHaveLength(5_000)
    expect(slow.mostUnsent()).toBeLessThanOrEqual(64 * 1024 + 16 * 1024 + 200)
    expect(events.stats.cutOff).toBe(0)
    await events.close()
  })

  it('ends every stream of a client removed or changed, joining ones too, and tells the others nothing of it', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({ store: feed.store, log, accessTokenTtlSeconds: 1800 })
    const [first, second, other] = [fakeSink(), fakeSink(), fakeSink()]
    ;(await events.subscribe({ clientId: 'rs' })).attach(first.sink)
    ;(await events.subscribe({ clientId: 'rs' })).attach(second.sink)
    ;(await events.subscribe({ clientId: 'other' })).attach(other.sink)
    const joining = await events.subscribe({ clientId: 'rs' })
    await Promise.all([first.ready(), second.ready(), other.ready()])
    await feed.commit(1)
    await feed.changeClient(2, 'rs')
    await feed.commit(3)
    expect(first.sink.destroyed).toBe(true)
    expect(second.sink.destroyed).toBe(true)
    expect(events.stats.subscribers).toBe(1)
    const late = fakeSink()
    joining.attach(late.sink)
    expect(late.sink.destroyed).toBe(true)
    expect(late.text()).toBe('')
    // The others carry on, with no event of the client change.
    expect(other.sink.destroyed).toBe(false)
    expect(other.events().map((e) => e.sid)).toEqual(['s1', 's3'])
    expect(other.text()).not.toContain('client')
    // Nor does a backlog; and the client may subscribe again (with its new secret).
    const resumed = fakeSink()
    ;(await events.subscribe({ clientId: 'rs', lastEventId: 0 })).attach(resumed.sink)
    await resumed.ready()
    expect(resumed.events().map((e) => e.sid)).toEqual(['s1', 's3'])
    expect(resumed.text()).not.toContain('client')
    expect(resumed.sink.destroyed).toBe(false)
    await events.close()
  })

  it('drops a stream whose client changed between its authentication and its joining', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({
      store: feed.store,
      log,
      accessTokenTtlSeconds: 1800,
      maxSubscribersPerClient: 1,
    })
    let confirmed = 0
    const refused = events.subscribe({
      clientId: 'rs',
      confirm: async () => {
        confirmed++
        // By then the stream is registered: a change delivered from now on would reach it.
        expect(events.stats.subscribers).toBe(1)
        throw new InvalidClient(true)
      },
    })
    await expect(refused).rejects.toBeInstanceOf(InvalidClient)
    expect(confirmed).toBe(1)
    expect(events.stats.subscribers).toBe(0)
    // Its place is given back.
    const stream = await events.subscribe({ clientId: 'rs', confirm: async () => undefined })
    const sink = fakeSink()
    stream.attach(sink.sink)
    await sink.ready()
    expect(sink.text()).toContain('event: ready')
    await events.close()
  })

  it('caps the streams of each client on the instance, apart from the instance cap', async () => {
    const feed = fakeFeed()
    const events = createRevocationEvents({
      store: feed.store,
      log,
      accessTokenTtlSeconds: 1800,
      maxSubscribersPerClient: 2,
    })
    const open = [fakeSink(), fakeSink()]
    for (const sink of open) (await events.subscribe({ clientId: 'rs' })).attach(sink.sink)
    const refused = events.subscribe({ clientId: 'rs' })
    await expect(refused).rejects.toBeInstanceOf(TooManyStreams)
    await expect(refused).rejects.toMatchObject({ retryAfterSeconds: 5 })
    await expect(refused).rejects.toThrow(/2 revocation event streams open on this instance/)
    // Another client is not held back by this one.
    await expect(events.subscribe({ clientId: 'other' })).resolves.toBeDefined()
    open[0]!.sink.destroy()
    await expect(events.subscribe({ clientId: 'rs' })).resolves.toBeDefined()
    await events.close()

    // By default: 10 per client.
    expect(DEFAULT_MAX_SUBSCRIBERS_PER_CLIENT).toBe(10)
    const defaults = createRevocationEvents({
      store: fakeFeed().store,
      log,
      accessTokenTtlSeconds: 1800,
    })
    for (let i = 0; i < 10; i++) await defaults.subscribe({ clientId: 'rs' })
    await expect(defaults.subscribe({ clientId: 'rs' })).rejects.toBeInstanceOf(TooManyStreams)
    await defaults.close()
  })
})
