// The PostgreSQL side of AuditStore: an append-only log (triggers refuse updates, and deletes of
// recent events), listed newest first and pruned in batches that skip rows others hold.
import type { AuditStore } from '../contract.js'
import { assertPrunable, toAuditEvent, type AuditRow } from '../rows/audit.js'
import { PRUNE_BATCH } from '../rows/prune-batch.js'
import type { Database } from './database.js'

export function createPostgresAuditStore({ query, deleteInBatches }: Database): AuditStore {
  return {
    async appendAudit(event) {
      await query(
        'INSERT INTO gatehouse_audit (at, type, outcome, username, ip, user_agent, detail, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [
          event.at,
          event.type,
          event.outcome,
          event.username,
          event.ip,
          event.userAgent,
          event.detail,
          event.actor ?? null,
        ],
      )
    },
    async listAudit({ limit, before }) {
      const { rows } = await query<AuditRow>(
        'SELECT * FROM gatehouse_audit WHERE id < $1 ORDER BY id DESC LIMIT $2',
        [before ?? Number.MAX_SAFE_INTEGER, limit],
      )
      return rows.map(toAuditEvent)
    },
    async pruneAudit(before) {
      assertPrunable(before)
      return deleteInBatches(
        `DELETE FROM gatehouse_audit WHERE id IN (
           SELECT id FROM gatehouse_audit WHERE at < $1 ORDER BY at LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
        [before],
      )
    },
  }
}
