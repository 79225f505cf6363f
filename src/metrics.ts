// Prometheus metrics (prom-client), one registry per app: request durations by route, logins by
// outcome, refresh-token reuse detections, the password hashing queue, database pool usage, and the
// revocation event streams (open, cut off).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { SecurityEvent } from './services/audit/security-events.js'

export interface MetricSources {
  /** Password hashing jobs running plus waiting. */
  hashQueueDepth: () => number
  /** Connections of the database pool, when the store has one. */
  databasePool?: () => { total: number; idle: number; waiting: number }
  /** Revocation event streams open on this instance. */
  revocationSubscribers?: () => number
}

export interface Metrics {
  registry: Registry
  observeRequest: (route: string, method: string, status: number, seconds: number) => void
  /** Counts the security events that have metrics: logins by outcome, refresh token reuse. */
  record: (event: SecurityEvent) => void
  /** Counts a revocation event stream ended for not reading fast enough. */
  countRevocationCutOff: () => void
}

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' })
  const requests = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request durations by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Password logins by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const reuse = new Counter({
    name: 'gatehouse_refresh_reuse_detected_total',
    help: 'Spent refresh tokens presented again (sessions ended)',
    registers: [registry],
  })
  const undeliverable = new Counter({
    name: 'gatehouse_mail_undeliverable_total',
    help: 'Mails given up after their last attempt or a permanent refusal',
    registers: [registry],
  })
  new Gauge({
    name: 'gatehouse_hash_queue_depth',
    help: 'Password hashing jobs running or waiting',
    registers: [registry],
    collect() {
      this.set(sources.hashQueueDepth())
    },
  })
  const cutOff = new Counter({
    name: 'gatehouse_revocation_subscribers_cut_off_total',
    help: 'Revocation event streams ended because their subscriber did not read fast enough',
    registers: [registry],
  })
  const subscribers = sources.revocationSubscribers
  if (subscribers) {
    new Gauge({
      name: 'gatehouse_revocation_subscribers',
      help: 'Revocation event streams open on this instance',
      registers: [registry],
      collect() {
        this.set(subscribers())
      },
    })
  }
  const pool = sources.databasePool
  if (pool) {
    new Gauge({
      name: 'gatehouse_db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const { total, idle, waiting } = pool()
        this.set({ state: 'total' }, total)
        this.set({ state: 'idle' }, idle)
        this.set({ state: 'waiting_clients' }, waiting)
      },
    })
  }
  return {
    registry,
    observeRequest: (route, method, status, seconds) =>
      requests.observe({ route, method, status: String(status) }, seconds),
    record(event) {
      if (event.type === 'login') logins.inc({ outcome: event.outcome })
      else if (event.type === 'refresh_reuse') reuse.inc()
      else if (event.type === 'mail' && event.outcome === 'undeliverable') undeliverable.inc()
    },
    countRevocationCutOff: () => cutOff.inc(),
  }
}
