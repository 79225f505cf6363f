// The audit-event row, its mapping to AuditEvent, and the pruning floor said before the database says it.
import { AUDIT_DELETE_FLOOR_MS, type AuditEvent } from '../contract.js'
import { InvalidInput } from '../../errors.js'

export interface AuditRow {
  id: number
  at: number
  type: string
  outcome: string
  username: string | null
  ip: string | null
  user_agent: string | null
  detail: string | null
  actor: string | null
}

export function toAuditEvent(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    at: row.at,
    type: row.type,
    outcome: row.outcome,
    username: row.username,
    ip: row.ip,
    userAgent: row.user_agent,
    detail: row.detail,
    actor: row.actor,
  }
}

/** Says clearly what the database's trigger would refuse anyway: deleting recent audit events. */
export function assertPrunable(before: number, now = Date.now()): void {
  if (before > now - AUDIT_DELETE_FLOOR_MS)
    throw new InvalidInput(
      `audit events younger than ${AUDIT_DELETE_FLOOR_MS / 3_600_000} hours cannot be deleted`,
    )
}
