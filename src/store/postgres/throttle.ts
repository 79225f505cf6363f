// The PostgreSQL side of ThrottleStore: all the counters of an update locked in one round trip and
// written back with the commit in a second, not waiting for the disk.
import pg from 'pg'
import type { ThrottleStore } from '../contract.js'
import { toThrottleState, type ThrottleRow } from '../rows/throttle.js'
import type { Database } from './database.js'
import { inTwoRoundTrips } from './transactions.js'

/** The throttle's expired counters are pruned on one update in this many (100 rows each time per update). */
export const THROTTLE_PRUNE_EVERY = 8

export function createPostgresThrottleStore({ pool, query }: Database): ThrottleStore {
  let throttleUpdates = 0
  return {
    async updateThrottles(keys, update) {
      // Not durable: a login makes a few of these, and waiting for the disk at each commit made it
      // slower than its password check on PostgreSQL. A server crash may forget the last few hundred
      // milliseconds of counts (a few attempts), as Redis, the other counter store, may.
      // Two round trips for all the counters: their locks with the transaction's start, their writes
      // with its commit. Locked in key order, so two updates of the same keys cannot deadlock.
      const literals = new Map(keys.map((key) => [key, pg.escapeLiteral(key)]))
      const prune = ++throttleUpdates % THROTTLE_PRUNE_EVERY === 0
      return inTwoRoundTrips(pool, lockThrottleRowsQuery([...literals.values()].sort()), (rows) => {
        const byKey = new Map(
          (rows as (ThrottleRow & { key: string })[]).map((row) => [row.key, row]),
        )
        const now = Date.now()
        // The placeholder a first attempt inserts has expired at 0: it reads as no counter.
        const { states, result } = update(
          keys.map((key) => {
            const row = byKey.get(key)
            return row && row.expires_at > now ? toThrottleState(row) : undefined
          }),
        )
        const writes = keys.map((key, index) => {
          const state = states[index]
          const literalKey = literals.get(key)!
          return state
            ? `UPDATE gatehouse_throttle SET count = ${integer(state.count)}, window_start = ${integer(state.windowStart)}, blocked_until = ${integer(state.blockedUntil)}, strikes = ${integer(state.strikes)}, expires_at = ${integer(state.expiresAt)} WHERE key = ${literalKey}`
            : `DELETE FROM gatehouse_throttle WHERE key = ${literalKey}`
        })
        // Expired counters are forgotten a batch at a time, on every THROTTLE_PRUNE_EVERY-th update (a
        // round trip less for the others). Rows other transactions hold are skipped, never waited for:
        // two updates pruning each other's rows could otherwise deadlock.
        if (prune)
          writes.push(`DELETE FROM gatehouse_throttle WHERE key IN (
               SELECT key FROM gatehouse_throttle WHERE expires_at < ${integer(now)} ORDER BY expires_at LIMIT ${100 * THROTTLE_PRUNE_EVERY} FOR UPDATE SKIP LOCKED)`)
        return { write: writes.join('; '), result }
      })
    },
    async readThrottles(keys) {
      const { rows } = await query<ThrottleRow & { key: string }>(
        'SELECT key, count, window_start, blocked_until, strikes, expires_at FROM gatehouse_throttle WHERE key = ANY($1)',
        [keys],
      )
      const byKey = new Map(rows.map((row) => [row.key, row]))
      const now = Date.now()
      // The placeholder a first attempt inserts has expired at 0: it reads as no counter.
      return keys.map((key) => {
        const row = byKey.get(key)
        return row && row.expires_at > now ? toThrottleState(row) : undefined
      })
    },
  }
}

/**
 * Locks the counters' rows for this transaction, creating them first when absent. SELECT ... FOR UPDATE
 * cannot lock a row that does not exist yet (two first attempts would both start from zero), and
 * INSERT ... ON CONFLICT DO NOTHING followed by it can find the row deleted in between (forgotten or
 * pruned) under load. An upsert is guaranteed to insert or lock, in one statement; its no-op update
 * returns the row as it was.
 */
function lockThrottleRowsQuery(literalKeys: readonly string[]): string {
  const values = literalKeys.map((key) => `(${key}, 0, 0, 0, 0, 0)`).join(', ')
  return `INSERT INTO gatehouse_throttle AS t (key, count, window_start, blocked_until, strikes, expires_at) VALUES ${values}
     ON CONFLICT (key) DO UPDATE SET key = t.key RETURNING t.key, t.count, t.window_start, t.blocked_until, t.strikes, t.expires_at`
}

/** A number written into SQL text: only ever a finite integer. */
function integer(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`)
  return String(Math.trunc(value))
}
