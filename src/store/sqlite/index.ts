// The embedded default store: one SQLite file through better-sqlite3, WAL mode so readers never wait
// for a writer, a busy timeout so several processes can share the file, and statements prepared once.
// This module opens and migrates the file, and composes the Store from one module per part of it.
import Database from 'better-sqlite3'
import { ConfigError } from '../../errors.js'
import type { Store } from '../contract.js'
import { createSqliteAuditStore } from './audit.js'
import { createSqliteChangeStore } from './change-feed.js'
import { createSqliteClientStore } from './clients.js'
import { createSqliteIssuerStore } from './issuers.js'
import { createSqliteKeyStore } from './keys.js'
import { createSqliteLeaseStore } from './leases.js'
import { createSqliteMailStore } from './mail.js'
import { createSqliteMfaStore } from './mfa.js'
import { migrate } from './migrate.js'
import { COLLIDING_EMAILS, CREATE_EMAIL_INDEX } from '../migrations/014-unique-addresses.js'
import { createSqliteSessionStore } from './sessions.js'
import { createSqliteThrottleStore } from './throttle.js'
import { createSqliteUserStore } from './users.js'

export function openSqliteStore(filename: string): Store {
  let db: Database.Database
  try {
    db = new Database(filename)
  } catch (error) {
    throw new ConfigError(
      `DATABASE_URL: cannot open the SQLite database at ${filename}: ${(error as Error).message}`,
    )
  }
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    // In WAL mode NORMAL loses no committed transaction when the process dies, only on power loss.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    migrate(db)
  } catch (error) {
    db.close()
    if (error instanceof ConfigError) throw error
    throw new ConfigError(
      `DATABASE_URL: ${filename} is not a usable SQLite database: ${(error as Error).message}`,
    )
  }

  const statements = {
    ping: db.prepare('SELECT 1'),
    schemaVersion: db.prepare<[], { version: number | null }>(
      'SELECT MAX(version) AS version FROM gatehouse_migrations',
    ),
  }

  return {
    ...createSqliteMfaStore(db),
    ...createSqliteUserStore(db),
    ...createSqliteSessionStore(db),
    ...createSqliteKeyStore(db),
    ...createSqliteThrottleStore(db),
    ...createSqliteAuditStore(db),
    ...createSqliteLeaseStore(db),
    ...createSqliteIssuerStore(db),
    ...createSqliteClientStore(db),
    ...createSqliteChangeStore(db),
    ...createSqliteMailStore(db),
    async ping() {
      statements.ping.get()
    },
    async schemaVersion() {
      return statements.schemaVersion.get()?.version ?? 0
    },
    async enforceUniqueEmails() {
      return db
        .transaction(() => {
          const colliding = db.prepare<[], { email: string }>(COLLIDING_EMAILS).all()
          if (colliding.length === 0) db.exec(CREATE_EMAIL_INDEX)
          return colliding.map((row) => row.email)
        })
        .immediate()
    },
    async close() {
      db.close()
    },
  }
}
