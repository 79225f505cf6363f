// Failed-login counters shared by every process on the database, so limits hold across workers and
// restarts. Rows carry their own expiry and are pruned as they are touched.
import type { Migration } from './migration.js'

export const throttleCounters: Migration = {
  version: 3,
  name: 'login throttle counters',
  sqlite(db) {
    db.exec(`
      CREATE TABLE gatehouse_throttle (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        blocked_until INTEGER NOT NULL,
        strikes INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX gatehouse_throttle_expiry ON gatehouse_throttle (expires_at);`)
  },
  async postgres(client) {
    await client.query(`
      CREATE TABLE gatehouse_throttle (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        window_start BIGINT NOT NULL,
        blocked_until BIGINT NOT NULL,
        strikes INTEGER NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX gatehouse_throttle_expiry ON gatehouse_throttle (expires_at);`)
  },
}
