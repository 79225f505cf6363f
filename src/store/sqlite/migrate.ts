// Brings a SQLite file's schema up to date: the migrations not yet recorded in gatehouse_migrations,
// in order, in one IMMEDIATE transaction; a file from a newer Gatehouse is refused.
import type Database from 'better-sqlite3'
import { ConfigError } from '../../errors.js'
import { LATEST_SCHEMA_VERSION, migrations } from '../migrations/index.js'

export function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock first, so processes starting together migrate one at a time.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`)
    const current =
      db
        .prepare<[], { version: number | null }>(
          'SELECT MAX(version) AS version FROM gatehouse_migrations',
        )
        .get()?.version ?? 0
    if (current > LATEST_SCHEMA_VERSION) {
      throw new ConfigError(
        `the database is at schema version ${current}, newer than this Gatehouse knows (${LATEST_SCHEMA_VERSION}); upgrade Gatehouse`,
      )
    }
    const record = db.prepare<[number, string]>(
      'INSERT INTO gatehouse_migrations (version, name) VALUES (?, ?)',
    )
    for (const migration of migrations) {
      if (migration.version <= current) continue
      migration.sqlite(db)
      record.run(migration.version, migration.name)
    }
  }).immediate()
}
