// The PostgreSQL change feed's connection: LISTEN on a dedicated connection (it cannot come from the
// pool), a pull of the feed on each notification for this schema, and on loss a gap, reconnection
// with backoff, and a pull of what was missed.
import pg from 'pg'
import { createChangePump, type ChangePump } from '../change-pump.js'
import type { Change, ChangeListener, GapListener } from '../contract.js'
import { CHANGE_CHANNEL } from '../migrations/009-change-feed.js'

/**
 * How long a lost LISTEN connection waits before reconnecting: doubling from the first, up to the last.
 * Meanwhile every lookup reads the database, which is correct, only slower.
 */
const RECONNECT_MS = [1_000, 5_000] as const

/**
 * A dedicated connection (LISTEN holds it, so it cannot come from the pool) that pulls the feed on each
 * notification for this schema, and on loss reports a gap, reconnects, and pulls what it missed.
 */
export async function listenForChanges(options: {
  connectionString: string
  schema: string
  changesSince: (afterId: number, limit: number) => Promise<Change[]>
  latestChangeId: () => Promise<number>
  listener: ChangeListener
  onGap: GapListener
  afterId: number | undefined
}): Promise<{
  live: boolean
  pump: ChangePump
  catchUp(): Promise<void>
  close(): Promise<void>
}> {
  let closed = false
  let client: pg.Client | undefined
  let retry: NodeJS.Timeout | undefined
  let delay: number = RECONNECT_MS[0]
  // Notifications may come before the pump exists: it then starts from a point read after them.
  let pump: ChangePump | undefined

  const connect = async (): Promise<pg.Client> => {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: `gatehouse-changes:${options.schema}`.slice(0, 63),
      keepAlive: true,
      connectionTimeoutMillis: 3_000,
    })
    next.on('error', (error) => lost(next, error))
    next.on('end', () => lost(next, new Error('the change-feed connection ended')))
    next.on('notification', (message) => {
      // Every schema of the database shares the channel; only this one's feed matters here.
      if (message.payload === options.schema) void pump?.pull()
    })
    try {
      await next.connect()
      await next.query(`LISTEN ${CHANGE_CHANNEL}`)
    } catch (error) {
      await next.end().catch(() => undefined)
      throw error
    }
    return next
  }

  const lost = (which: pg.Client, error: Error): void => {
    if (closed || which !== client) return
    client = undefined
    void which.end().catch(() => undefined)
    pump?.down(error)
    schedule()
  }

  const schedule = (): void => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = undefined
      connect().then(
        (next) => {
          if (closed) return void next.end().catch(() => undefined)
          client = next
          delay = RECONNECT_MS[0]
          // Listening again before reading: whatever commits from here on is notified or read now.
          void pump?.pull()
        },
        () => {
          delay = Math.min(delay * 2, RECONNECT_MS[1])
          schedule()
        },
      )
    }, delay)
    retry.unref()
  }

  // LISTEN before the starting point is read, so nothing committed in between is missed.
  client = await connect()
  let started: ChangePump
  try {
    started = pump = createChangePump({
      changesSince: options.changesSince,
      afterId: options.afterId ?? (await options.latestChangeId()),
      listener: options.listener,
      onGap: options.onGap,
    })
  } catch (error) {
    closed = true
    await client.end().catch(() => undefined)
    throw error
  }
  return {
    get live() {
      return started.live
    },
    pump: started,
    catchUp: () => started.pull(),
    async close() {
      closed = true
      clearTimeout(retry)
      await client?.end().catch(() => undefined)
      client = undefined
    },
  }
}
