// What a schema version is: its number, its name, and how each driver applies it. Apart from the
// list (index.ts), so that a migration never imports the list it belongs to.
import type { Database } from 'better-sqlite3'
import type { ClientBase } from 'pg'

/** What a PostgreSQL migration gets: a client inside the migrating transaction. */
export type PostgresMigrationClient = Pick<ClientBase, 'query'>

export interface Migration {
  version: number
  name: string
  sqlite(db: Database): void
  postgres(client: PostgresMigrationClient): Promise<void>
}
