// Revocation events for resource servers (GET /events/revocations, docs/revocation-events.md): the
// change feed as Server-Sent Events. One feed subscription per instance, opened at the first
// subscriber and closed with the services, fans every change out to every stream, formatted once.
// A stream's `id` is a resume point (a feed cursor), never a raw change id: PostgreSQL commits ids
// out of order, and resuming after an id above one still to commit would lose that one. Streams are
// bounded: in number (per instance and per client), in unsent output, and in their client's life.
import type { Logger } from 'pino'
import { DatabaseUnavailable, GatehouseError, Overloaded, TooManyStreams } from '../../errors.js'
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
/** Concurrent streams of one client on one instance (a resource server needs one per process). */
export const DEFAULT_MAX_SUBSCRIBERS_PER_CLIENT = 10
/** Output a subscriber has not taken yet beyond which it is cut off (it reconnects and catches up). */
export const DEFAULT_MAX_UNSENT_BYTES = 256 * 1024
/** The reconnection delay the stream asks of its receivers (the `retry:` line). */
const RETRY_MS = 1_000
/** Changes read per query while sending a backlog. */
const BACKLOG_PAGE = 1_000
/** The backlog waits for the receiver while more than this is unsent (and never more than half the bound). */
const BACKLOG_HIGH_WATER_BYTES = 64 * 1024
/**
 * Output is written in pages of about this size (at most a quarter of the bound), and the bound is
 * checked before each: one delivery of many changes (a logout everywhere) never passes it.
 */
const PAGE_BYTES = 16 * 1024
/** Retry-After when a cap refuses a stream. */
const CAP_RETRY_SECONDS = 5
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
  /** Concurrent streams of one client on this instance; more are refused (429, default 10). */
  maxSubscribersPerClient?: number
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
   * Joins a client: Overloaded beyond the subscriber cap, TooManyStreams beyond the client's,
   * DatabaseUnavailable when the feed cannot be read. `lastEventId` is the resume point the client
   * last received; without it the stream starts with every event whose `until` has not passed. The
   * stream ends when the client is removed or changed (its secret rotated), on any instance.
   * `confirm`, called once the stream would hear of such a change, rejects (and the stream is
   * dropped) when one came between the client's authentication and then.
   */
  subscribe(subscriber: {
    clientId: string
    lastEventId?: number
    confirm?: () => Promise<void>
  }): Promise<EventStream>
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
  // Said to the instances (their streams of that client end), not to the subscribers.
  if (change.kind === 'client_changed') return undefined
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

/** Ends a stream cleanly; a receiver that does not take the end is cut after a grace. */
function endSink(sink: EventSink): void {
  if (sink.destroyed) return
  sink.end()
  setTimeout(() => sink.destroy(), END_GRACE_MS).unref()
}

export function createRevocationEvents(deps: RevocationEventDeps): RevocationEvents {
  const { store, log } = deps
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  const maxSubscribers = deps.maxSubscribers ?? DEFAULT_MAX_SUBSCRIBERS
  const maxPerClient = deps.maxSubscribersPerClient ?? DEFAULT_MAX_SUBSCRIBERS_PER_CLIENT
  const maxUnsent = deps.maxUnsentBytes ?? DEFAULT_MAX_UNSENT_BYTES
  const pageBytes = Math.max(1, Math.min(PAGE_BYTES, Math.floor(maxUnsent / 4)))
  const backlogRoom = Math.min(BACKLOG_HIGH_WATER_BYTES, Math.floor(maxUnsent / 2))
  const ttlSeconds = deps.accessTokenTtlSeconds
  const readyEvent = `event: ready\ndata: ${JSON.stringify({ heartbeat: heartbeatMs / 1000 })}\n\n`

  const subscribers = new Set<Subscriber>()
  /** Streams per client, those still joining included. */
  const streamsOf = new Map<string, number>()
  const countStream = (clientId: string, delta: number): void => {
    const count = (streamsOf.get(clientId) ?? 0) + delta
    if (count > 0) streamsOf.set(clientId, count)
    else streamsOf.delete(clientId)
  }
  let feed: ChangeSubscription | undefined
  let opening: Promise<ChangeSubscription> | undefined
  let closed = false
  let cutOff = 0

  const onChanges = (changes: Change[]): void => {
    if (!feed || subscribers.size === 0) return
    const cursor = feed.cursor
    const formatted: FormattedChange[] = []
    const changedClients = new Set<string>()
    for (const change of changes) {
      if (change.kind === 'client_changed' && change.clientId !== null)
        changedClients.add(change.clientId)
      const event = formatChange(change, ttlSeconds)
      if (event) formatted.push(event)
    }
    for (const clientId of changedClients) endStreamsOf(clientId)
    for (const subscriber of subscribers) subscriber.deliver(formatted, cursor)
  }

  /** The client was removed or changed: what its streams authenticated with may no longer hold. */
  const endStreamsOf = (clientId: string): void => {
    const ending = [...subscribers].filter((subscriber) => subscriber.clientId === clientId)
    if (ending.length === 0) return
    log.info(
      { clientId, streams: ending.length },
      'client removed or changed: ending its revocation event streams',
    )
    // Each ends cleanly; reconnecting authenticates again (and fails without the new secret).
    for (const subscriber of ending) subscriber.end()
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
    /** Live output kept while the backlog is sent, and its size (it counts as unsent). */
    private held: string[] = []
    private heldBytes = 0
    /** The resume point after the live events delivered so far. */
    private livePoint: number
    private heartbeat: NodeJS.Timeout | undefined
    /** A write was refused by the socket's buffer: a 'drain' will come (or a 'close'). */
    private blocked = false
    private unblocked: (() => void) | undefined

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
      let last = changes.length - 1
      while (last >= 0 && changes[last]!.id <= this.start) last--
      // Written (or held) a page at a time, so that neither this output nor its text in memory ever
      // passes the bound, however many changes the feed delivered at once.
      let page = ''
      for (let index = 0; index <= last; index++) {
        const change = changes[index]!
        if (change.id <= this.start) continue
        // Within a batch, a point before the later events of it; after its last, the feed's cursor.
        const point = index === last ? cursor : Math.min(change.id, cursor)
        this.livePoint = Math.max(this.livePoint, point)
        page += idLine(this.livePoint) + change.body
        if (page.length >= pageBytes) {
          if (!this.append(page)) return
          page = ''
        }
      }
      this.livePoint = Math.max(this.livePoint, cursor)
      if (page !== '') this.append(page)
    }

    /** Sends (live) or holds (joining) a page; false, having cut the stream off, past the bound. */
    private append(text: string): boolean {
      const bytes = Buffer.byteLength(text)
      const unsent = this.heldBytes + (this.sink?.writableLength ?? 0)
      // What it has not taken yet is bounded: beyond the limit, it reconnects and reads the database.
      if (unsent + bytes > maxUnsent) {
        this.cutOff(unsent, bytes)
        return false
      }
      if (this.state === 'joining') {
        this.held.push(text)
        this.heldBytes += bytes
        return true
      }
      this.write(this.sink!, text)
      this.heartbeat?.refresh()
      return true
    }

    private write(sink: EventSink, text: string): void {
      if (sink.write(text) || this.blocked) return
      this.blocked = true
      sink.once('drain', () => {
        this.blocked = false
        this.unblocked?.()
      })
    }

    /** Resolves at the next 'drain' (at once when no write is waiting for one) or when it ends. */
    private drained(): Promise<void> {
      if (!this.blocked || this.ended) return Promise.resolve()
      return new Promise((resolve) => {
        this.unblocked = () => {
          this.unblocked = undefined
          resolve()
        }
      })
    }

    attach(sink: EventSink): void {
      this.sink = sink
      sink.once('close', () => this.closed())
      if (sink.destroyed) return this.closed()
      // Ended before it was attached (its client changed, the feed was lost): it ends at once.
      if (this.state === 'ended') return endSink(sink)
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
      this.write(sink, `retry: ${RETRY_MS}\n\n`)
      const { cursor, above } = this.snapshot
      let top = cursor
      for (const id of above) top = Math.max(top, id)
      const now = Date.now()
      for (let after = this.start; after < top;) {
        const rows = await store.changesSince(after, BACKLOG_PAGE)
        if (this.ended) return
        let page = ''
        for (const change of rows) {
          if (change.id > top) break
          after = change.id
          if (change.id > cursor && !above.has(change.id)) continue // it comes live
          const event = formatChange(change, ttlSeconds)
          if (!event || (this.window && event.until * 1000 <= now)) continue
          page += idLine(Math.max(this.start, Math.min(change.id, cursor))) + event.body
          if (page.length >= pageBytes) {
            if (!(await this.appendBacklog(sink, page))) return
            page = ''
          }
        }
        if (page !== '' && !(await this.appendBacklog(sink, page))) return
        if (rows.length < BACKLOG_PAGE || rows.at(-1)!.id >= top) break
      }
      this.write(sink, readyEvent)
      this.state = 'live'
      const held = this.held
      this.held = []
      this.heldBytes = 0
      this.heartbeat = setTimeout(() => this.beat(), heartbeatMs)
      this.heartbeat.unref()
      // Each held page fitted the bound with the others: together they still fit.
      for (const page of held) this.write(sink, page)
    }

    /** Writes a page of the backlog at the receiver's pace; false when the stream ended meanwhile. */
    private async appendBacklog(sink: EventSink, text: string): Promise<boolean> {
      const bytes = Buffer.byteLength(text)
      if (sink.writableLength + bytes > backlogRoom) await this.drained()
      if (this.ended) return false
      // Live output held meanwhile and the backlog together stay within the bound.
      const unsent = this.heldBytes + sink.writableLength
      if (unsent + bytes > maxUnsent) {
        this.cutOff(unsent, bytes)
        return false
      }
      this.write(sink, text)
      return true
    }

    /** A method, not a narrowed field: it changes across the awaits of the backlog. */
    private get ended(): boolean {
      return this.state === 'ended'
    }

    private beat(): void {
      if (this.state !== 'live') return
      this.append(': heartbeat\n\n')
    }

    private cutOff(unsentBytes: number, refusedBytes: number): void {
      cutOff++
      deps.onCutOff?.()
      log.warn(
        { clientId: this.clientId, unsentBytes, refusedBytes },
        'revocation event subscriber cut off: it does not read its stream fast enough',
      )
      this.sink?.destroy()
      this.closed()
    }

    /** Ends the stream cleanly; a receiver that does not take the end is cut after a grace. */
    end(): void {
      const sink = this.sink
      this.closed()
      if (sink) endSink(sink)
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
      this.heldBytes = 0
      subscribers.delete(this)
      countStream(this.clientId, -1)
      this.unblocked?.()
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
    async subscribe({ clientId, lastEventId, confirm }) {
      if (closed) throw new DatabaseUnavailable('shutting down')
      if (subscribers.size + pending >= maxSubscribers)
        throw new Overloaded(
          CAP_RETRY_SECONDS,
          'Too many revocation event subscribers on this instance',
        )
      if ((streamsOf.get(clientId) ?? 0) >= maxPerClient)
        throw new TooManyStreams(
          CAP_RETRY_SECONDS,
          `This client has ${maxPerClient} revocation event streams open on this instance, the most it may; end one first`,
        )
      pending++
      countStream(clientId, 1)
      let joined = false
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
        // From here its end gives the client's place back.
        joined = true
        // A removal or rotation committed from now on ends it through the feed; one committed since
        // the client authenticated, and delivered before it joined, is seen by this second look.
        try {
          await confirm?.()
        } catch (error) {
          subscriber.end()
          throw error
        }
        return subscriber
      } finally {
        pending--
        if (!joined) countStream(clientId, -1)
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
