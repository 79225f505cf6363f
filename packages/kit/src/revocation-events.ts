// The kit's `events` revocation mode: one Server-Sent Events subscription to Gatehouse's
// `GET /events/revocations` (reconnecting and resuming on its own) and the state it keeps, so that a
// verifier learns of ended sessions without a call to Gatehouse per request. Imports only
// eventsource-parser; verify.ts maps its verdicts to HTTP answers.
import { createParser, type EventSourceMessage } from 'eventsource-parser'

export interface RevocationEventsOptions {
  mode: 'events'
  /**
   * A confidential client registered at Gatehouse as a resource server
   * (`gatehouse clients add NAME --confidential --resource URI`).
   */
  clientId: string
  clientSecret: string
  /** How long tokens are still trusted after the stream is lost (default 30 s); then 503 until it is back. */
  staleAfterSeconds?: number
  /** How long a verification waits for the first `ready` before answering 503 (default 5 s). */
  readyTimeoutSeconds?: number
  /**
   * How many ended sessions and users are remembered at most (default 100,000). Beyond it the oldest
   * go first and leave a watermark: tokens issued at or before a forgotten change are introspected once.
   */
  maxEntries?: number
  /**
   * Called with each failure of the stream, and once with the notice that tokens of an HS* Gatehouse
   * are verified by introspection (never carries a secret or a token); a configuration error shows here.
   */
  onError?: (error: Error) => void
}

export type RevocationEventsState =
  /** Not yet received the first `ready`. */
  | 'connecting'
  /** Caught up and listening. */
  | 'connected'
  /** Lost; tokens still trusted until `staleAfterSeconds` have passed since `lostAt`. */
  | 'reconnecting'
  /** Lost for longer than `staleAfterSeconds`: verifications answer 503. */
  | 'stale'
  /** Gatehouse refused the client credentials: verifications answer 503. */
  | 'refused'
  | 'closed'

export interface RevocationEventsStatus {
  mode: 'events'
  state: RevocationEventsState
  /** The last `id` received: the resume point sent as `Last-Event-ID`. */
  lastEventId: string | undefined
  /** Epoch ms of the last `ready`, and of the loss of the stream after it. */
  readyAt: number | undefined
  lostAt: number | undefined
  /** The last failure of the stream. */
  lastError: string | undefined
  /** Entries remembered now (ended sessions, users), and how many were dropped to stay under maxEntries. */
  entries: number
  evicted: number
  /** The latest `at` (epoch s) of a dropped entry still in force: tokens issued at or before it are introspected once. */
  watermark: number | undefined
}

/** What the stream says of a token, from its claims. */
export type RevocationVerdict =
  | { kind: 'live' }
  /** Its session or user ended. */
  | { kind: 'revoked' }
  /**
   * Its user changed after it was issued (or ended in its second), or it is older than a forgotten
   * entry (the watermark): introspect it once (`recheck`).
   */
  | { kind: 'recheck'; changedAt: number }
  /** The state cannot be trusted (no stream yet, stale, or refused credentials). */
  | { kind: 'unavailable' }

export interface RevocationEvents {
  /** The verdict for a user's token (`sub`, `sid`, `iat` in epoch seconds). */
  verdict(claims: { sub: string; sid: string; iat: number }): Promise<RevocationVerdict>
  /** The scopes introspection gave a rechecked token (null: inactive), kept until its user changes again. */
  recheck(
    token: string,
    sub: string,
    changedAt: number,
    introspect: () => Promise<readonly string[] | null>,
  ): Promise<readonly string[] | null>
  status(): RevocationEventsStatus
  close(): Promise<void>
}

interface Change {
  at: number
  until: number
}

const DEFAULT_HEARTBEAT_SECONDS = 15
const SILENCE_GRACE_MS = 5_000
const FIRST_DELAY_MS = 500
const MAX_DELAY_MS = 5_000
/** Wrong credentials will not fix themselves quickly: ask less often, not to fill Gatehouse's audit. */
const REFUSED_DELAY_MS = 30_000
/** An event larger than this is not one Gatehouse sends: the connection is dropped. */
const MAX_PENDING_BYTES = 1 << 20
const SWEEP_EVERY_MS = 10_000
const MAX_RECHECKED = 10_000

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value)

/** Remembers the later change per key, for as long as it matters (`until`). */
function changeMap() {
  const entries = new Map<string, Change>()
  return {
    entries,
    record(key: string, change: Change) {
      const known = entries.get(key)
      if (known && known.at >= change.at) return
      // Re-inserted at the end: the Map's order stays roughly by time, so the oldest evicts first.
      entries.delete(key)
      entries.set(key, { at: change.at, until: Math.max(change.until, known?.until ?? 0) })
    },
    /** The change of `key` still in force at `nowS`. */
    get(key: string, nowS: number): Change | undefined {
      const known = entries.get(key)
      return known && known.until >= nowS ? known : undefined
    },
    sweep(nowS: number) {
      for (const [key, change] of entries) if (change.until < nowS) entries.delete(key)
    },
  }
}

/**
 * Subscribes to `url` at once (HTTP Basic with `authorization`) and keeps the revocation state.
 * `fetch` must stream response bodies (Node's does).
 */
export function subscribeToRevocations(
  url: string,
  authorization: string,
  options: RevocationEventsOptions,
  doFetch: typeof fetch,
): RevocationEvents {
  const staleAfterMs = (options.staleAfterSeconds ?? 30) * 1000
  const readyTimeoutMs = (options.readyTimeoutSeconds ?? 5) * 1000
  const maxEntries = options.maxEntries ?? 100_000

  const endedSessions = new Map<string, Change>() // sid -> its end
  const endedUsers = changeMap() // tokens of sub with iat < at are dead, iat = at rechecked
  const changedUsers = changeMap() // tokens of sub with iat <= at are rechecked once
  const rechecked = new Map<
    string,
    { sub: string; changedAt: number; result: Promise<readonly string[] | null> }
  >()
  let evicted = 0
  // Fail closed past maxEntries: what was forgotten is summed up as "anything issued up to `at` may be
  // dead", in force until no such token can pass any more (`until`).
  let watermark: Change | undefined
  let nextSweep = 0

  let state: RevocationEventsState = 'connecting'
  let lastEventId: string | undefined
  let readyAt: number | undefined
  let lostAt: number | undefined
  let lastError: string | undefined
  let heartbeatMs = DEFAULT_HEARTBEAT_SECONDS * 1000

  // Settled by the first `ready` or by refused credentials: verifications wait for it, up to a deadline.
  let settleStart: (() => void) | undefined
  const started = new Promise<void>((resolve) => (settleStart = resolve))
  const startDeadline = Date.now() + readyTimeoutMs

  const entryCount = () => endedSessions.size + endedUsers.entries.size + changedUsers.entries.size

  const sweep = (now: number) => {
    if (now < nextSweep) return
    nextSweep = now + SWEEP_EVERY_MS
    const nowS = Math.floor(now / 1000)
    for (const [sid, end] of endedSessions) if (end.until < nowS) endedSessions.delete(sid)
    endedUsers.sweep(nowS)
    changedUsers.sweep(nowS)
    if (watermark && watermark.until < nowS) watermark = undefined
    for (const [token, entry] of rechecked)
      if (!watermark && !changedUsers.get(entry.sub, nowS) && !endedUsers.get(entry.sub, nowS))
        rechecked.delete(token)
  }

  /** Bounded memory: the oldest remembered entry (the soonest to expire) goes, raising the watermark. */
  const bound = () => {
    while (entryCount() > maxEntries) {
      const oldest = [endedSessions, endedUsers.entries, changedUsers.entries]
        .filter((map) => map.size > 0)
        .sort((a, b) => until(a) - until(b))[0]
      const first = oldest?.entries().next().value
      if (!oldest || !first) return
      const [key, change] = first
      oldest.delete(key)
      watermark = {
        at: Math.max(change.at, watermark?.at ?? 0),
        until: Math.max(change.until, watermark?.until ?? 0),
      }
      evicted++
    }
  }
  const until = (map: Map<string, Change>): number => map.values().next().value?.until ?? Infinity

  const apply = (message: EventSourceMessage) => {
    if (message.id !== undefined && message.id !== '') lastEventId = message.id
    if (message.event === 'ready') {
      const data = parseJson(message.data) as { heartbeat?: unknown } | undefined
      const heartbeat = data?.heartbeat
      if (typeof heartbeat === 'number' && heartbeat > 0) heartbeatMs = heartbeat * 1000
      state = 'connected'
      readyAt = Date.now()
      lostAt = undefined
      lastError = undefined
      attempt = 0
      settleStart?.()
      return
    }
    const data = parseJson(message.data) as Record<string, unknown> | undefined
    if (!data || !isTime(data.at) || !isTime(data.until)) return
    const change = { at: data.at, until: data.until }
    switch (message.event) {
      case 'session_ended':
        if (typeof data.sid === 'string') {
          const known = endedSessions.get(data.sid)
          endedSessions.set(data.sid, {
            at: Math.max(change.at, known?.at ?? 0),
            until: Math.max(change.until, known?.until ?? 0),
          })
        }
        break
      case 'user_sessions_ended':
      case 'user_removed':
        if (typeof data.sub === 'string') endedUsers.record(data.sub, change)
        break
      case 'user_changed':
        if (typeof data.sub === 'string') changedUsers.record(data.sub, change)
        break
      default:
        return // a kind this version does not know
    }
    bound()
    sweep(Date.now())
  }

  // The connection loop.
  let closed = false
  let attempt = 0
  let current: AbortController | undefined
  let wakeUp: (() => void) | undefined

  const fail = (error: Error) => {
    lastError = error.message
    options.onError?.(error)
  }

  const streamOnce = async (): Promise<'refused' | 'lost'> => {
    const controller = new AbortController()
    current = controller
    let silence: NodeJS.Timeout | undefined
    let dropped = false
    const drop = (error: Error) => {
      dropped = true
      fail(error)
      controller.abort()
    }
    const expectNextByteWithin = (ms: number) => {
      clearTimeout(silence)
      silence = setTimeout(
        () => drop(new Error(`the revocation stream was silent for ${Math.round(ms / 1000)} s`)),
        ms,
      )
      silence.unref()
    }
    try {
      expectNextByteWithin(2 * heartbeatMs + SILENCE_GRACE_MS)
      const response = await doFetch(url, {
        headers: {
          accept: 'text/event-stream',
          authorization,
          ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
        },
        signal: controller.signal,
      })
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel()
        fail(
          new Error(
            `Gatehouse refused the client credentials at ${url} (HTTP ${response.status}): check clientId and clientSecret`,
          ),
        )
        return 'refused'
      }
      const type = response.headers.get('content-type') ?? ''
      if (!response.ok || !response.body || !type.startsWith('text/event-stream')) {
        await response.body?.cancel()
        fail(new Error(`the revocation stream answered HTTP ${response.status} (${type})`))
        return 'lost'
      }
      let pending = 0
      const parser = createParser({
        onEvent(message) {
          pending = 0
          apply(message)
        },
      })
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        pending += value.length
        if (pending > MAX_PENDING_BYTES) {
          drop(new Error('the revocation stream sent an oversized event'))
          break
        }
        parser.feed(value)
        // Any byte (an event or `: heartbeat`) proves the connection alive; armed after the
        // chunk is parsed, so a `ready` in it sets the heartbeat the silence is measured by.
        expectNextByteWithin(2 * heartbeatMs + SILENCE_GRACE_MS)
      }
      if (!dropped && !closed) fail(new Error('the revocation stream ended'))
      return 'lost'
    } catch (error) {
      if (!dropped && !closed)
        fail(new Error(`the revocation stream failed: ${(error as Error).message}`))
      return 'lost'
    } finally {
      clearTimeout(silence)
    }
  }

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      timer.unref()
      wakeUp = () => {
        clearTimeout(timer)
        resolve()
      }
    })

  const run = async () => {
    while (!closed) {
      const outcome = await streamOnce()
      if (closed) break
      if (outcome === 'refused') {
        state = 'refused'
        lostAt ??= Date.now()
        settleStart?.()
        await pause(REFUSED_DELAY_MS)
        continue
      }
      if (state === 'connected') {
        state = 'reconnecting'
        lostAt = Date.now()
      }
      // Jittered exponential backoff (0.5 s to 5 s) so that many services do not reconnect at once.
      const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt++)
      await pause(ceiling / 2 + Math.random() * (ceiling / 2))
    }
  }
  const running = run()

  /** Whether the state can be trusted now, after waiting for the first `ready` if need be. */
  const trusted = async (): Promise<boolean> => {
    if (state === 'connected') return true
    if (state === 'connecting') {
      const wait = startDeadline - Date.now()
      if (wait <= 0) return false
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        started,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, wait))),
      ])
      clearTimeout(timer)
      return (state as RevocationEventsState) === 'connected'
    }
    if (state === 'reconnecting' && lostAt !== undefined && Date.now() - lostAt < staleAfterMs)
      return true
    if (state === 'reconnecting') state = 'stale'
    return false
  }

  return {
    async verdict({ sub, sid, iat }) {
      if (!(await trusted())) return { kind: 'unavailable' }
      const now = Date.now()
      sweep(now)
      const nowS = Math.floor(now / 1000)
      const session = endedSessions.get(sid)
      if (session !== undefined && session.until >= nowS) return { kind: 'revoked' }
      const ended = endedUsers.get(sub, nowS)
      if (ended && iat < ended.at) return { kind: 'revoked' }
      // Anything that makes the token doubtful makes it asked about once per newest doubt: a change
      // of its user, the second of its user's end (whole seconds: a login just after it is
      // possible; the ended sessions' own tokens are refused by their sid), or a forgotten entry.
      const doubts = [
        changedUsers.get(sub, nowS),
        ended,
        watermark && watermark.until >= nowS ? watermark : undefined,
      ]
        .filter((change): change is Change => change !== undefined && iat <= change.at)
        .map((change) => change.at)
      if (doubts.length > 0) return { kind: 'recheck', changedAt: Math.max(...doubts) }
      return { kind: 'live' }
    },

    recheck(token, sub, changedAt, introspect) {
      const known = rechecked.get(token)
      if (known && known.changedAt >= changedAt) return known.result
      if (rechecked.size >= MAX_RECHECKED) rechecked.delete(rechecked.keys().next().value!)
      // The promise is kept, so concurrent requests with one token introspect it once.
      const result = introspect()
      rechecked.set(token, { sub, changedAt, result })
      // Unreachable Gatehouse: not an answer, ask again next time.
      result.catch(() => {
        if (rechecked.get(token)?.result === result) rechecked.delete(token)
      })
      return result
    },

    status() {
      if (state === 'reconnecting' && lostAt !== undefined && Date.now() - lostAt >= staleAfterMs)
        state = 'stale'
      return {
        mode: 'events',
        state,
        lastEventId,
        readyAt,
        lostAt,
        lastError,
        entries: entryCount(),
        evicted,
        watermark: watermark && watermark.until >= Date.now() / 1000 ? watermark.at : undefined,
      }
    },

    async close() {
      closed = true
      state = 'closed'
      settleStart?.()
      current?.abort()
      wakeUp?.()
      await running
    },
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
