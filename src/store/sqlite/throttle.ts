// The SQLite side of ThrottleStore: counters read, decided on and written back in one IMMEDIATE
// transaction (the file's write lock makes it atomic across processes).
import type Database from 'better-sqlite3'
import type { ThrottleStore, ThrottleUpdate } from '../contract.js'
import { toThrottleState, type ThrottleRow } from '../rows/throttle.js'

export function createSqliteThrottleStore(db: Database.Database): ThrottleStore {
  const statements = {
    throttle: db.prepare<[string], ThrottleRow>('SELECT * FROM gatehouse_throttle WHERE key = ?'),
    saveThrottle: db.prepare<[string, number, number, number, number, number]>(
      `INSERT INTO gatehouse_throttle (key, count, window_start, blocked_until, strikes, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET count = excluded.count, window_start = excluded.window_start,
         blocked_until = excluded.blocked_until, strikes = excluded.strikes, expires_at = excluded.expires_at`,
    ),
    forgetThrottle: db.prepare<[string]>('DELETE FROM gatehouse_throttle WHERE key = ?'),
    pruneThrottle: db.prepare<[number]>(
      'DELETE FROM gatehouse_throttle WHERE rowid IN (SELECT rowid FROM gatehouse_throttle WHERE expires_at < ? LIMIT 100)',
    ),
  }

  const updateThrottles = db.transaction(
    <T>(keys: readonly string[], update: ThrottleUpdate<T>): T => {
      const rows = keys.map((key) => statements.throttle.get(key))
      const now = Date.now()
      const { states, result } = update(
        rows.map((row) => (row && row.expires_at > now ? toThrottleState(row) : undefined)),
      )
      keys.forEach((key, index) => {
        const state = states[index]
        if (state)
          statements.saveThrottle.run(
            key,
            state.count,
            state.windowStart,
            state.blockedUntil,
            state.strikes,
            state.expiresAt,
          )
        else if (rows[index]) statements.forgetThrottle.run(key)
      })
      // Expired counters are forgotten a few at a time, on the way.
      statements.pruneThrottle.run(now)
      return result
    },
  )

  return {
    async updateThrottles(keys, update) {
      return updateThrottles.immediate(keys, update) as ReturnType<typeof update>['result']
    },
    async readThrottles(keys) {
      const now = Date.now()
      return keys.map((key) => {
        const row = statements.throttle.get(key)
        return row && row.expires_at > now ? toThrottleState(row) : undefined
      })
    },
  }
}
