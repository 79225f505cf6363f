// The PostgreSQL side of LeaseStore: one upsert, a compare-and-set across processes.
import type { LeaseStore } from '../contract.js'
import { takeLeaseQuery } from '../rows/leases.js'
import type { Database } from './database.js'

export function createPostgresLeaseStore({ changed }: Database): LeaseStore {
  return {
    async takeLease(name, holder, now, ttlMs) {
      // The upsert inserts or locks the row in one statement: of concurrent takers, one changes it;
      // the others then see it unexpired and another holder's, and change nothing.
      return (
        (await changed(takeLeaseQuery('$1', '$2', '$3', '$4'), [name, holder, now + ttlMs, now])) >
        0
      )
    },
  }
}
