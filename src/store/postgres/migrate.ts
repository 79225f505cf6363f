// Brings a PostgreSQL schema up to date: the migrations not yet recorded in gatehouse_migrations, in
// order, in the caller's transaction, one instance at a time; a schema from a newer Gatehouse is refused.
import { ConfigError } from '../../errors.js'
import { LATEST_SCHEMA_VERSION, migrations } from '../migrations/index.js'
import type { Query } from './transactions.js'

/** 'gate' in ASCII: the class of Gatehouse's advisory locks, apart from other applications' ones. */
const ADVISORY_LOCK_CLASS = 0x67617465

export async function migrate(client: Query): Promise<void> {
  // Instances starting together migrate one at a time: the lock is per schema and ends with the
  // transaction. It comes first, so even the CREATE TABLE IF NOT EXISTS below never races.
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [
    ADVISORY_LOCK_CLASS,
  ])
  await client.query(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
  const { rows } = await client.query<{ version: number | null }>(
    'SELECT MAX(version) AS version FROM gatehouse_migrations',
  )
  const current = rows[0]?.version ?? 0
  if (current > LATEST_SCHEMA_VERSION) {
    throw new ConfigError(
      `the database is at schema version ${current}, newer than this Gatehouse knows (${LATEST_SCHEMA_VERSION}); upgrade Gatehouse`,
    )
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue
    await migration.postgres(client)
    await client.query('INSERT INTO gatehouse_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ])
  }
}
