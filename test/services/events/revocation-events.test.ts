// The revocation event streams over a feed whose ids commit out of order (as on PostgreSQL): resume
// points never pass an id still to commit, a joining subscriber gets each change once, and a
// subscriber that stops reading while it joins is cut off.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { DatabaseUnavailable } from '../../../src/errors.js'
import {
  createRevocationEvents,
  type EventSink,
  type RevocationEventDeps,
} from '../../../src/services/events/revocation-events.js'
import { createChangePump, type ChangePump } from '../../../src/store/change-feed.js'
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
        })
      rows.sort((a, b) => a.id - b.id)
      for (const pump of pumps) await pump.pull()
    },
  }
}

/** A sink that keeps what is written; `writableLength` is what a test says the socket holds. */
function fakeSink() {
  const emitter = new EventEmitter()
  let text = ''
  const sink: EventSink & { writableLength: number; destroyed: boolean } = {
    writableLength: 0,
    destroyed: false,
    write(chunk: string) {
      text += chunk
      if (text.includes('event: ready')) emitter.emit('ready')
      return true
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
  return { sink, events, ready, text: () => text }
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
})
