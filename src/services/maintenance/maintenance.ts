// Housekeeping that bounds the database: audit events past their retention and ended sessions (with
// their refresh tokens) are pruned every interval, by one instance of all those sharing the database,
// the one that takes the lease for that interval.
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { CLOCK_LEEWAY_SECONDS } from '../../security/tokens.js'
import type { Store } from '../../store/contract.js'

/** The lease row the instances compete for. */
export const MAINTENANCE_LEASE = 'maintenance'
const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
/** Beyond the token lifetime, for reconnect delays and ids committing late (HOLE_GRACE_MS). */
const CHANGE_RETENTION_MARGIN_MS = HOUR_MS

/**
 * How long change-feed rows are kept: a day, and at least as long as an access token may still pass
 * after the change (its lifetime and the clock leeway), so that a revocation-event subscriber resuming
 * from any event id, or starting without one, never needs a pruned row: anything older says nothing
 * about a token that can still be presented.
 */
export function changeRetentionMs(accessTokenTtlSeconds: number): number {
  return Math.max(
    DAY_MS,
    (accessTokenTtlSeconds + CLOCK_LEEWAY_SECONDS) * 1000 + CHANGE_RETENTION_MARGIN_MS,
  )
}

export interface MaintenanceOptions {
  store: Pick<Store, 'takeLease' | 'pruneAudit' | 'pruneSessions' | 'pruneChanges'>
  log: Pick<Logger, 'info' | 'error'>
  /** Audit events older than this many days are pruned (AUDIT_RETENTION_DAYS, at least 1). */
  auditRetentionDays: number
  /** The access-token lifetime (ACCESS_TOKEN_EXPIRE_MINUTES): change-feed rows outlive it. */
  accessTokenTtlSeconds: number
  /** Time between runs across all instances (default: an hour). */
  intervalMs?: number
  /** Delay of the first run after start() (default: random, up to a minute, so restarts spread out). */
  firstRunDelayMs?: number
  /** Who this instance is in the lease table (default: host, pid and a random part). */
  holder?: string
}

export interface MaintenanceRun {
  /** False when another instance holds the lease for this interval: nothing was done here. */
  ran: boolean
  auditEvents: number
  sessions: number
  /** Change-feed rows past changeRetentionMs. */
  changes: number
}

export interface Maintenance {
  /** Runs every interval from now on, on timers that do not keep the process alive. */
  start(): void
  /** Stops the timers and waits for a run in progress. */
  stop(): Promise<void>
  /** One run at `now`, if this instance gets the lease. Rejects when the store fails. */
  runOnce(now?: number): Promise<MaintenanceRun>
  /** Prunes now, lease or not (`gatehouse audit prune`). */
  prune(now?: number): Promise<Omit<MaintenanceRun, 'ran'>>
}

export function createMaintenance(options: MaintenanceOptions): Maintenance {
  const { store, log, auditRetentionDays } = options
  const intervalMs = options.intervalMs ?? HOUR_MS
  const changeRetention = changeRetentionMs(options.accessTokenTtlSeconds)
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  let timers: NodeJS.Timeout[] = []
  let running: Promise<void> | undefined

  const prune = async (now = Date.now()): Promise<Omit<MaintenanceRun, 'ran'>> => {
    const auditEvents = await store.pruneAudit(now - auditRetentionDays * DAY_MS)
    const sessions = await store.pruneSessions(now)
    const changes = await store.pruneChanges(now - changeRetention)
    if (auditEvents > 0 || sessions > 0) {
      log.info({ auditEvents, sessions }, 'pruned old audit events and ended sessions')
    }
    return { auditEvents, sessions, changes }
  }

  const runOnce = async (now = Date.now()): Promise<MaintenanceRun> => {
    // The lease lasts one interval: whichever instance's timer fires first after it ends runs next.
    if (!(await store.takeLease(MAINTENANCE_LEASE, holder, now, intervalMs))) {
      return { ran: false, auditEvents: 0, sessions: 0, changes: 0 }
    }
    return { ran: true, ...(await prune(now)) }
  }

  const tick = (): void => {
    if (running) return // the previous run is still pruning: this instance renews no lease meanwhile
    running = runOnce()
      .then(() => undefined)
      .catch((error: unknown) => {
        // A failed run (database away) is tried again at the next interval; it never stops the server.
        log.error({ err: error }, 'maintenance run failed')
      })
      .finally(() => {
        running = undefined
      })
  }

  return {
    start() {
      if (timers.length > 0) return
      const first = setTimeout(tick, options.firstRunDelayMs ?? Math.random() * 60_000)
      const every = setInterval(tick, intervalMs)
      first.unref()
      every.unref()
      timers = [first, every]
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer)
      timers = []
      await running
    },
    runOnce,
    prune,
  }
}
