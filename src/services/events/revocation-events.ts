// Revocation events for resource servers (GET /events/revocations, docs/revocation-events.md): the
// change feed as Server-Sent Events. One feed subscription per instance, opened at the first
// subscriber and closed with the services, fans every change out to every stream, formatted once.
// A stream's `id` is a resume point (a feed cursor), never a raw change id: PostgreSQL commits ids
// out of order, and resuming after an id above one still to commit would lose that one.
import type { Logger } from 'pino'
import { DatabaseUnavailable, GatehouseError, Overloaded } from '../../errors.js'
import { CLOCK_LEEWAY_SECONDS } from '../../security/tokens.js'
import {
  HOLE_GRACE_MS,
  type Change,
  type ChangeStore,
  type ChangeSubscription,
  type DeliveredChanges,
} from '../../store/contract.js'

export const DEFAULT_HEARTBEAT_MS = 15_000
export const DEFAULT_MAX_SUBSCRIBERS = 1_000
/** Output a subscriber has not taken yet beyond which it is cut off (it reconnects and catches up). */
export const DEFAULT_MAX_UNSENT_BYTES = 256 * 1024
/** The reconnection delay the stream asks of its receivers (the `retry:` line). */
const RETRY_MS = 1_000
/** Changes read per query while sending a backlog; the next page waits until the socket drained. */
const BACKLOG_PAGE = 1_000
const BACKLOG_HIGH_WATER_BYTES = 64 * 1024
/** On shutdown, a stream whose receiver does not take its end within this is destroyed. */
const END_GRACE_MS = 1_000

/** Where a stream is written: a Node ServerResponse (after the headers) fits. */
export interface EventSink {
  write(chunk: string): boolean
  /** Bytes written but not yet taken by the network. */
  readonly writableLength: number
  readonly destroyed: boolean
  once(event: 'drain' | 'close', listener: () => void): unknown
  end(): unknown
  destroy(): unknown
}

export interface RevocationEventOptions {
  /** Time without output after which a `: heartbeat` comment is sent (default 15 s). */
  heartbeatMs?: number
  /** Concurrent streams per instance; more are refused (503). */
  maxSubscribers?: number
  /** Unsent output beyond which a stream is ended (default 256 KiB). */
  maxUnsentBytes?: number
  /** SQLite: how often the file is polled for changes (default 100 ms). */
  pollMs?: number
}

export interface RevocationEventDeps extends RevocationEventOptions {
  store: Pick<
    ChangeStore,
    'changesSince' | 'latestChangeId' | 'changeIdBefore' | 'subscribeChanges'
  >
  log: Pick<Logger, 'info' | 'warn'>
  /** ACCESS_TOKEN_EXPIRE_MINUTES in seconds: how long after a change a token it concerns may pass. */
  accessTokenTtlSeconds: number
  /** Called for each stream cut off for not reading (a metric). */
  onCutOff?: () => void
}

/** A subscriber that has joined: where its stream starts is fixed; events are kept until attached. */
export interface EventStream {
  /** Writes the stream to `sink` (the backlog, `ready`, then live events) until either side ends it. */
  attach(sink: EventSink): void
}

export interface RevocationEvents {
  /**
   * Joins a client: Overloaded beyond the subscriber cap, DatabaseUnavailable when the feed cannot be
   * read. `lastEventId` is the resume point the client last received; without it the stream starts
   * with every event whose `until` has not passed.
   */
  subscribe(subscriber: { clientId: string; lastEventId?: number }): Promise<EventStream>
  readonly stats: { subscribers: number; cutOff: number }
  /** Ends every stream, waiting until they are closed (the server is shutting down). */
  endStreams(): Promise<void>
  /** Ends every stream and the feed subscription. */
  close(): Promise<void>
}

/** A change as an event: its kind, its one-line JSON data, and until when it matters (epoch s). */
interface FormattedChange {
  id: number
  body: string
  until: number
}

function formatChange(change: Change, ttlSeconds: number): FormattedChange | undefined {
  const at = Math.floor(change.at / 1000)
  const until = at + ttlSeconds + CLOCK_LEEWAY_SECONDS
  let data: Record<string, unknown>
  if (change.kind === 'session_ended') {
    if (change.sessionId === null) return undefined
    data = { sid: change.sessionId, sub: change.username, at, until }
  } else {
    // Only rows written before migration 11 lack the name; their sessions are each said with a sid.
    if (change.username === null) return undefined
    data = { sub: change.username, at, until }
  }
  return { id: change.id, body: `event: ${change.kind}\ndata: ${JSON.stringify(data)}\n\n`, until }
}

const idLine = (id: number): string => `id: ${id}\n`

export function createRevocationEvents(deps: RevocationEventDeps): RevocationEvents {
  const { store, log } = deps
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  const maxSubscribers = deps.maxSubscribers ?? DEFAULT_MAX_SUBSCRIBERS
  const maxUnsent = deps.maxUnsentBytes ?? DEFAULT_MAX_UNSENT_BYTES
  const ttlSeconds = deps.accessTokenTtlSeconds
  const readyEvent = `event: ready\ndata: ${JSON.stringify({ heartbeat: heartbeatMs / 1000 })}\n\n`

  const subscribers = new Set<Subscriber>()
  let feed: ChangeSubscription | undefined
  let opening: Promise<ChangeSubscription> | undefined
  let closed = false
  let cutOff = 0

  const onChanges = (changes: Change[]): void => {
    if (!feed || subscribers.size === 0) return
    const cursor = feed.cursor
    const formatted: FormattedChange[] = []
    for (const change of changes) {
      const event = formatChange(change, ttlSeconds)
      if (event) formatted.push(event)
    }
    for (const subscriber of subscribers) subscriber.deliver(formatted, cursor)
  }

  const onGap = (error: Error): void => {
    // What changes meanwhile reaches no stream: end them all, receivers resume once the feed is back.
    log.warn(
      { err: error, subscribers: subscribers.size },
      'change feed lost: ending the revocation event streams',
    )
    for (const subscriber of subscribers) subscriber.end()
  }

  const openFeed = (): Promise<ChangeSubscription> => {
    opening ??= (async () => {
      // From a little back, so that the feed has seen (and waits for) ids still to commit at its start.
      const from = await store.changeIdBefore(Date.now() - 2 * HOLE_GRACE_MS)
      const subscription = await store.subscribeChanges(onChanges, onGap, {
        afterId: from,
        ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
      })
      await subscription.catchUp()
      if (closed) {
        await subscription.close()
        throw new DatabaseUnavailable('shutting down')
      }
      feed = subscription
      return subscription
    })().catch((error: unknown) => {
      opening = undefined
      if (error instanceof GatehouseError) throw error
      throw new DatabaseUnavailable((error as Error).message, { cause: error })
    })
    return opening
  }

  class Subscriber implements EventStream {
    private sink: EventSink | undefined
    private state: 'joining' | 'live' | 'ended' = 'joining'
    /** Live output kept while the backlog is sent, and its size. */
    private held: string[] = []
    private heldBytes = 0
    /** The resume point after the live events delivered so far. */
    private livePoint: number
    private heartbeat: NodeJS.Timeout | undefined

    constructor(
      readonly clientId: string,
      /** The client has every event up to here. */
      private readonly start: number,
      /** What the feed had delivered when this subscriber joined: the backlog is exactly that. */
      private readonly snapshot: DeliveredChanges,
      /** Without a Last-Event-ID: only events whose `until` has not passed. */
      private readonly window: boolean,
    ) {
      this.livePoint = Math.max(start, snapshot.cursor)
    }

    deliver(changes: readonly FormattedChange[], cursor: number): void {
      if (this.state === 'ended') return
      let text = ''
      const fresh = changes.filter((change) => change.id > this.start)
      fresh.forEach((change, index) => {
        // Within a batch, a point before the later events of it; after its last, the feed's cursor.
        const point = index === fresh.length - 1 ? cursor : Math.min(change.id, cursor)
        this.livePoint = Math.max(this.livePoint, point)
        text += idLine(this.livePoint) + change.body
      })
      this.livePoint = Math.max(this.livePoint, cursor)
      if (text === '') return
      if (this.state === 'joining') {
        if (this.heldBytes + (this.sink?.writableLength ?? 0) > maxUnsent)
          return this.cutOff(this.heldBytes + (this.sink?.writableLength ?? 0))
        this.held.push(text)
        this.heldBytes += Buffer.byteLength(text)
        return
      }
      this.send(text)
    }

    attach(sink: EventSink): void {
      this.sink = sink
      sink.once('close', () => this.closed())
      if (sink.destroyed || this.state === 'ended') return this.closed()
      this.sendBacklog(sink).catch((error: unknown) => {
        if (this.state === 'ended') return
        log.warn(
          { err: error, clientId: this.clientId },
          'could not read the revocation event backlog: ending the stream',
        )
        this.end()
      })
    }

    private async sendBacklog(sink: EventSink): Promise<void> {
      sink.write(`retry: ${RETRY_MS}\n\n`)
      const { cursor, above } = this.snapshot
      let top = cursor
      for (const id of above) top = Math.max(top, id)
      const now = Date.now()
      for (let after = this.start; after < top;) {
        const page = await store.changesSince(after, BACKLOG_PAGE)
        if (this.ended) return
        let text = ''
        for (const change of page) {
          if (change.id > top) break
          after = change.id
          if (change.id > cursor && !above.has(change.id)) continue // it comes live
          const event = formatChange(change, ttlSeconds)
          if (!event || (this.window && event.until * 1000 <= now)) continue
          text += idLine(Math.max(this.start, Math.min(change.id, cursor))) + event.body
        }
        if (text !== '') sink.write(text)
        if (page.length < BACKLOG_PAGE || page.at(-1)!.id >= top) break
        if (sink.writableLength > BACKLOG_HIGH_WATER_BYTES) await this.drained(sink)
        if (this.ended) return
      }
      sink.write(readyEvent)
      this.state = 'live'
      const held = this.held.join('')
      this.held = []
      this.heldBytes = 0
      this.heartbeat = setTimeout(() => this.beat(), heartbeatMs)
      this.heartbeat.unref()
      if (held !== '') this.send(held)
    }

    /** A method, not a narrowed field: it changes across the awaits of the backlog. */
    private get ended(): boolean {
      return this.state === 'ended'
    }

    private drained(sink: EventSink): Promise<void> {
      return new Promise((resolve) => {
        sink.once('drain', resolve)
        sink.once('close', resolve)
      })
    }

    private send(text: string): void {
      const sink = this.sink!
      // What it has not taken yet is bounded: beyond the limit, it reconnects and reads the database.
      if (sink.writableLength > maxUnsent) return this.cutOff(sink.writableLength)
      sink.write(text)
      this.heartbeat?.refresh()
    }

    private beat(): void {
      if (this.state !== 'live') return
      this.send(': heartbeat\n\n')
    }

    private cutOff(unsentBytes: number): void {
      cutOff++
      deps.onCutOff?.()
      log.warn(
        { clientId: this.clientId, unsentBytes },
        'revocation event subscriber cut off: it does not read its stream fast enough',
      )
      this.sink?.destroy()
      this.closed()
    }

    /** Ends the stream cleanly; a receiver that does not take the end is cut after a grace. */
    end(): void {
      const sink = this.sink
      this.closed()
      if (!sink || sink.destroyed) return
      sink.end()
      setTimeout(() => sink.destroy(), END_GRACE_MS).unref()
    }

    /** Resolves when the sink has closed (at once when there is none). */
    whenClosed(): Promise<void> {
      const sink = this.sink
      if (!sink || sink.destroyed) return Promise.resolve()
      return new Promise((resolve) => sink.once('close', resolve))
    }

    private closed(): void {
      if (this.state === 'ended') return
      this.state = 'ended'
      clearTimeout(this.heartbeat)
      this.held = []
      subscribers.delete(this)
    }
  }

  /** Where a stream starts: the client's point, or the point before the window of live tokens. */
  const startOf = async (
    lastEventId: number | undefined,
  ): Promise<{ start: number; window: boolean }> => {
    // A point above the newest change comes from another database (a restored one): start afresh.
    if (lastEventId !== undefined && lastEventId <= (await store.latestChangeId()))
      return { start: lastEventId, window: false }
    // Ids and times disagree by as long as a writing transaction lasts: read from a margin before.
    const windowStart = Date.now() - (ttlSeconds + CLOCK_LEEWAY_SECONDS + 1) * 1000
    return { start: await store.changeIdBefore(windowStart - HOLE_GRACE_MS), window: true }
  }

  const endAll = async (): Promise<void> => {
    const all = [...subscribers]
    for (const subscriber of all) subscriber.end()
    await Promise.all(all.map((subscriber) => subscriber.whenClosed()))
  }

  let pending = 0
  return {
    async subscribe({ clientId, lastEventId }) {
      if (closed) throw new DatabaseUnavailable('shutting down')
      if (subscribers.size + pending >= maxSubscribers)
        throw new Overloaded(5, 'Too many revocation event subscribers on this instance')
      pending++
      try {
        const subscription = feed ?? (await openFeed())
        // The backlog is everything committed before this request: the feed reads up to now first.
        await subscription.catchUp()
        if (!subscription.live) throw new DatabaseUnavailable('the change feed is down')
        const { start, window } = await startOf(lastEventId)
        if (closed) throw new DatabaseUnavailable('shutting down')
        // From here every batch the feed delivers reaches this subscriber: what it had delivered before
        // (the snapshot, taken in the same turn) is the backlog, read from the database.
        const subscriber = new Subscriber(clientId, start, subscription.delivered(), window)
        subscribers.add(subscriber)
        return subscriber
      } finally {
        pending--
      }
    },
    get stats() {
      return { subscribers: subscribers.size, cutOff }
    },
    endStreams: endAll,
    async close() {
      closed = true
      await endAll()
      await opening?.catch(() => undefined)
      await feed?.close()
      feed = undefined
    },
  }
}
