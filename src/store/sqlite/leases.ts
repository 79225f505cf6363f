// The SQLite side of LeaseStore: one upsert, which the file's write lock makes a compare-and-set
// across processes.
import type Database from 'better-sqlite3'
import type { LeaseStore } from '../contract.js'
import { takeLeaseQuery } from '../rows/leases.js'

export function createSqliteLeaseStore(db: Database.Database): LeaseStore {
  const statements = {
    takeLease: db.prepare<[string, string, number, number]>(takeLeaseQuery('?', '?', '?', '?')),
  }
  return {
    async takeLease(name, holder, now, ttlMs) {
      return statements.takeLease.run(name, holder, now + ttlMs, now).changes > 0
    },
  }
}
