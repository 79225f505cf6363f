// Security events (logins, refreshes, reuse, logouts, password changes, admin actions): services
// report them here; the audit log stores them and metrics count them. An event never holds a secret.
import type { Logger } from 'pino'
import type { AuditStore } from '../store/index.js'

export type SecurityEventType =
  | 'login'
  | 'token_refresh'
  | 'refresh_reuse'
  | 'logout'
  | 'session_revoked'
  | 'password_change'
  | 'registration'
  | 'admin'

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
}

export type SecurityEvents = (event: SecurityEvent) => Promise<void>

/** Audit events go to the store; a failure to record one is logged, never fails the request. */
export function createAuditTrail(
  store: AuditStore,
  log: Pick<Logger, 'error'>,
  also?: (event: SecurityEvent) => void,
): SecurityEvents {
  return async (event) => {
    also?.(event)
    try {
      await store.appendAudit({
        at: Date.now(),
        type: event.type,
        outcome: event.outcome,
        username: event.username?.slice(0, 256) ?? null,
        ip: event.ip ?? null,
        userAgent: event.userAgent?.slice(0, 512) ?? null,
        detail: event.detail ?? null,
      })
    } catch (error) {
      log.error(
        { err: error, type: event.type, outcome: event.outcome },
        'could not write the audit log',
      )
    }
  }
}
