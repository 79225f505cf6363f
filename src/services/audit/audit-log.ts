// Reading the audit log (the admin API and `gatehouse audit tail`): events as people read them,
// with ISO times and the API's field names. Writing is security-events.ts's.
import type { AuditEvent, AuditStore } from '../../store/contract.js'

export interface AuditEntry {
  id: number
  at: string
  type: string
  outcome: string
  username: string | null
  ip: string | null
  user_agent: string | null
  detail: string | null
  /** Who acted: a username, `cli:<os user>`, or null (nobody signed in, e.g. a failed login). */
  actor: string | null
}

export interface AuditLog {
  /** Newest first; `before` pages back from an event id. */
  page(page: { limit: number; before?: number | undefined }): Promise<AuditEntry[]>
  /** Events newer than `afterId`, oldest first (at most `limit`), for following the log. */
  after(afterId: number, limit: number): Promise<AuditEntry[]>
}

export function createAuditLog(store: Pick<AuditStore, 'listAudit'>): AuditLog {
  return {
    async page(page) {
      return (await store.listAudit(page)).map(toEntry)
    },
    async after(afterId, limit) {
      const newest = await store.listAudit({ limit })
      return newest
        .filter((event) => event.id > afterId)
        .reverse()
        .map(toEntry)
    },
  }
}

function toEntry(event: AuditEvent): AuditEntry {
  return {
    id: event.id,
    at: new Date(event.at).toISOString(),
    type: event.type,
    outcome: event.outcome,
    username: event.username,
    ip: event.ip,
    user_agent: event.userAgent,
    detail: event.detail,
    actor: event.actor,
  }
}
