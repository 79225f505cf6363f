// The scale-out store: PostgreSQL through one `pg` pool per process, so any number of instances can
// share a database. What must be atomic across processes is one statement or one transaction holding
// row locks; a database that cannot be reached surfaces as DatabaseUnavailable, never as a hang.
// This module opens the pool, migrates, and composes the Store from one module per part of it.
import { ConfigError, DatabaseUnavailable } from '../../errors.js'
import type { Store } from '../contract.js'
import { createPostgresAuditStore } from './audit.js'
import { createPostgresChangeStore } from './change-feed.js'
import { createPostgresClientStore } from './clients.js'
import { openDatabase, type PostgresStoreOptions } from './database.js'
import { createPostgresIssuerStore } from './issuers.js'
import { createPostgresKeyStore } from './keys.js'
import { createPostgresLeaseStore } from './leases.js'
import { createPostgresMailStore } from './mail.js'
import { createPostgresMfaStore } from './mfa.js'
import { migrate } from './migrate.js'
import { COLLIDING_EMAILS, CREATE_EMAIL_INDEX } from '../migrations/014-unique-addresses.js'
import { createPostgresSessionStore } from './sessions.js'
import { createPostgresThrottleStore } from './throttle.js'
import { createPostgresUserStore } from './users.js'

export type { PostgresStoreOptions } from './database.js'

export async function openPostgresStore(
  connectionString: string,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  const db = openDatabase(connectionString, options)
  const { pool, query } = db
  try {
    await db.transaction(migrate)
  } catch (error) {
    await pool.end()
    if (error instanceof ConfigError || error instanceof DatabaseUnavailable) throw error
    throw new ConfigError(
      `DATABASE_URL: cannot use the PostgreSQL database: ${(error as Error).message}`,
    )
  }

  const schema = (await query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!
    .schema
  const { changes, closeSubscriptions } = createPostgresChangeStore(db, connectionString, schema)

  return {
    ...createPostgresMfaStore(db),
    ...createPostgresUserStore(db),
    ...createPostgresSessionStore(db),
    ...createPostgresKeyStore(db),
    ...createPostgresThrottleStore(db),
    ...createPostgresAuditStore(db),
    ...createPostgresLeaseStore(db),
    ...createPostgresIssuerStore(db),
    ...createPostgresClientStore(db),
    ...changes,
    ...createPostgresMailStore(db),
    async ping() {
      await query('SELECT 1')
    },
    poolStats() {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
    },
    async schemaVersion() {
      const { rows } = await query<{ version: number | null }>(
        'SELECT MAX(version) AS version FROM gatehouse_migrations',
      )
      return rows[0]?.version ?? 0
    },
    async enforceUniqueEmails() {
      return db.transaction(async (client) => {
        // The lock makes a row written meanwhile wait for the index (or collide before it).
        await client.query('LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE')
        const { rows } = await client.query<{ email: string }>(COLLIDING_EMAILS)
        if (rows.length === 0) await client.query(CREATE_EMAIL_INDEX)
        return rows.map((row) => row.email)
      })
    },
    async close() {
      await closeSubscriptions()
      await pool.end()
    },
  }
}
