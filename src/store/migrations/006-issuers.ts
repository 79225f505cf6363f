// The issuers this database's tokens are signed under: every instance started without ISSUER
// records its default one (http://HOST:PORT) here and accepts tokens of all of them, so instances
// sharing the database on other hosts or ports never refuse each other's tokens.
import type { Migration } from './migration.js'

export const issuers: Migration = {
  version: 6,
  name: 'issuers',
  sqlite(db) {
    db.exec(`CREATE TABLE gatehouse_issuers (
      issuer TEXT PRIMARY KEY,
      recorded_at INTEGER NOT NULL
    )`)
  },
  async postgres(client) {
    await client.query(`CREATE TABLE gatehouse_issuers (
      issuer TEXT PRIMARY KEY,
      recorded_at BIGINT NOT NULL
    )`)
  },
}
