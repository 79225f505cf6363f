// The SQLite side of AuditStore: an append-only log (triggers refuse updates, and deletes of recent
// events), listed newest first and pruned in batches.
import type Database from 'better-sqlite3'
import type { AuditStore } from '../contract.js'
import { assertPrunable, toAuditEvent, type AuditRow } from '../rows/audit.js'
import { PRUNE_BATCH } from '../rows/prune-batch.js'
import { deleteInBatches } from './delete-in-batches.js'

export function createSqliteAuditStore(db: Database.Database): AuditStore {
  const statements = {
    appendAudit: db.prepare<
      [
        number,
        string,
        string,
        string | null,
        string | null,
        string | null,
        string | null,
        string | null,
      ]
    >(
      'INSERT INTO gatehouse_audit (at, type, outcome, username, ip, user_agent, detail, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    pruneAudit: db.prepare<[number]>(
      `DELETE FROM gatehouse_audit WHERE id IN (SELECT id FROM gatehouse_audit WHERE at < ? ORDER BY at LIMIT ${PRUNE_BATCH})`,
    ),
    auditPage: db.prepare<[number, number], AuditRow>(
      'SELECT * FROM gatehouse_audit WHERE id < ? ORDER BY id DESC LIMIT ?',
    ),
  }

  return {
    async appendAudit(event) {
      statements.appendAudit.run(
        event.at,
        event.type,
        event.outcome,
        event.username,
        event.ip,
        event.userAgent,
        event.detail,
        event.actor ?? null,
      )
    },
    async listAudit({ limit, before }) {
      return statements.auditPage.all(before ?? Number.MAX_SAFE_INTEGER, limit).map(toAuditEvent)
    },
    async pruneAudit(before) {
      assertPrunable(before)
      return deleteInBatches(() => statements.pruneAudit.run(before).changes)
    },
  }
}
