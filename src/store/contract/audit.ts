// The audit part of the contract: an append-only log of security events, pruned past its retention
// but never within AUDIT_DELETE_FLOOR_MS (which migration 5's triggers also enforce, whoever deletes).

/**
 * Audit events younger than this cannot be deleted, by Gatehouse or by any SQL: one day (the shortest
 * AUDIT_RETENTION_DAYS) less an hour, so that an instance whose clock runs ahead of the database's by
 * up to an hour can still prune at the shortest retention, while the events of the last day (those of
 * an incident under way) stay out of reach of a bug or an injected statement.
 */
export const AUDIT_DELETE_FLOOR_MS = 23 * 3_600_000

/** A security event (login, refresh, logout, password change, admin action ...). Never a secret. */
export interface AuditEvent {
  id: number
  /** Epoch milliseconds. */
  at: number
  type: string
  outcome: string
  username: string | null
  ip: string | null
  userAgent: string | null
  detail: string | null
  /** Who acted: 'cli:<os user>', 'admin:<name>', the user themself ...; null when not recorded. */
  actor: string | null
}

/** An event to append; `actor` may be left out (null). */
export type NewAuditEvent = Omit<AuditEvent, 'id' | 'actor'> & { actor?: string | null }

export interface AuditStore {
  /** Appends an event; the log has no update, and no delete but pruneAudit's. */
  appendAudit(event: NewAuditEvent): Promise<void>
  /** Newest first; `before` pages back from an event id. */
  listAudit(page: { limit: number; before?: number }): Promise<AuditEvent[]>
  /**
   * Deletes the events older than `before` (epoch ms), in batches; returns how many. The database
   * refuses to delete events younger than AUDIT_DELETE_FLOOR_MS: such a `before` is an error.
   */
  pruneAudit(before: number): Promise<number>
}
