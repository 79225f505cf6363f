// Security events (logins, refreshes, reuse, logouts, password changes, admin actions): built by
// audit-events.ts, the one vocabulary, and reported here by the use-cases; the audit log stores them
// and metrics count them. An event never holds a secret.
import type { Logger } from 'pino'
import type { AuditStore } from '../../store/contract.js'
import { guardAuditFlood } from './audit-flood-guard.js'

export type SecurityEventType =
  | 'login'
  | 'token_refresh'
  | 'refresh_reuse'
  | 'logout'
  | 'session_revoked'
  | 'password_change'
  | 'profile_change'
  | 'registration'
  | 'admin'
  | 'mfa'
  | 'password_reset'
  | 'email_verification'
  | 'mail'
  | 'client_token'

export interface SecurityEvent {
  type: SecurityEventType
  /** e.g. success, bad_credentials, throttled, inactive; or the admin action done. */
  outcome: string
  /** Who it is about (for admin actions: the admin who acted, or `cli:<os user>`). */
  username: string | null
  ip?: string | null
  userAgent?: string | null
  /** Free text without secrets, e.g. the target of an admin action. */
  detail?: string | null
  /** Who acted: a username, or `cli:<os user>`; null when nobody signed in did (a failed login). */
  actor?: string | null
}

export type SecurityEvents = (event: SecurityEvent) => Promise<void>

export interface AuditTrail extends SecurityEvents {
  /** Writes the summaries of events held back by the flood guard (at shutdown). */
  flush(): Promise<void>
}

export interface AuditTrailOptions {
  store: Pick<AuditStore, 'appendAudit'>
  log: Pick<Logger, 'error'>
  /** Told every event too (metrics). */
  also?: ((event: SecurityEvent) => void) | undefined
  /** Failures of one kind written per client per minute; the rest are counted in one summary row. */
  perClientPerMinute: number
  /** The client an address counts as (an IPv6 /64 as one). */
  clientOf: (ip: string | null) => string
}

/**
 * Audit events go to the store, bounded: free text is cut, and junk failures from one client write
 * a fixed number of rows a minute. A failure to record one is logged, never fails the request.
 */
export function createAuditTrail(options: AuditTrailOptions): AuditTrail {
  const { store, log, also } = options
  const append = guardAuditFlood((event) => store.appendAudit(event), {
    perClientPerMinute: options.perClientPerMinute,
    clientOf: options.clientOf,
    // What admins do, and every other success, is always written in full.
    guards: (event) => event.type !== 'admin' && event.outcome !== 'success',
    // A user's own successful changes (throttled per user) are written once a minute per user and
    // sort, the rest counted in one summary row.
    perUser: {
      guards: (event) => event.type === 'profile_change' && event.outcome === 'success',
      perMinute: 1,
    },
  })
  const record = async (event: SecurityEvent): Promise<void> => {
    also?.(event)
    try {
      await append({
        at: Date.now(),
        type: event.type,
        outcome: event.outcome,
        username: event.username,
        ip: event.ip ?? null,
        userAgent: event.userAgent ?? null,
        detail: event.detail ?? null,
        actor: event.actor ?? null,
      })
    } catch (error) {
      log.error(
        { err: error, type: event.type, outcome: event.outcome },
        'could not write the audit log',
      )
    }
  }
  return Object.assign(record, {
    flush: () =>
      append.flush().catch((error: unknown) => {
        log.error({ err: error }, 'could not write the audit log')
      }),
  })
}
