// The embedded default store: one SQLite file through better-sqlite3, WAL mode so readers never wait
// for a writer, a busy timeout so several processes can share the file, and statements prepared once.
import Database from 'better-sqlite3'
import { ConfigError, DuplicateUser } from '../errors.js'
import type { NewUser, UserRecord, UserStore } from './index.js'
import { migrations } from './migrations/index.js'

interface UserRow {
  id: number
  username: string
  email: string | null
  full_name: string | null
  hashed_password: string | null
  disabled: number | null
}

const USER_COLUMNS = 'id, username, email, full_name, hashed_password, disabled'

export function openSqliteStore(filename: string): UserStore {
  let db: Database.Database
  try {
    db = new Database(filename)
  } catch (error) {
    throw new ConfigError(`DATABASE_URL: cannot open the SQLite database at ${filename}: ${(error as Error).message}`)
  }
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    // In WAL mode NORMAL loses no committed transaction when the process dies, only on power loss.
    db.pragma('synchronous = NORMAL')
    migrate(db)
  } catch (error) {
    db.close()
    if (error instanceof ConfigError) throw error
    throw new ConfigError(`DATABASE_URL: ${filename} is not a usable SQLite database: ${(error as Error).message}`)
  }

  const statements = {
    byUsername: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE username = ?`),
    insert: db.prepare<[string, string | null, string | null, string, number], UserRow>(
      `INSERT INTO users (username, email, full_name, hashed_password, disabled) VALUES (?, ?, ?, ?, ?) RETURNING ${USER_COLUMNS}`,
    ),
    all: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id`),
    setHash: db.prepare<[string, string]>('UPDATE users SET hashed_password = ? WHERE username = ?'),
    replaceHash: db.prepare<[string, number, string]>('UPDATE users SET hashed_password = ? WHERE id = ? AND hashed_password = ?'),
    setDisabled: db.prepare<[number, string]>('UPDATE users SET disabled = ? WHERE username = ?'),
    remove: db.prepare<[string]>('DELETE FROM users WHERE username = ?'),
  }

  return {
    async findUserByUsername(username) {
      const row = statements.byUsername.get(username)
      return row && toRecord(row)
    },
    async createUser(user: NewUser) {
      try {
        const row = statements.insert.get(user.username, user.email ?? null, user.fullName ?? null, user.hashedPassword, user.disabled ? 1 : 0)
        return toRecord(row as UserRow)
      } catch (error) {
        throw toDuplicateUser(error) ?? error
      }
    },
    async listUsers() {
      return statements.all.all().map(toRecord)
    },
    async setPasswordHash(username, hashedPassword) {
      return statements.setHash.run(hashedPassword, username).changes > 0
    },
    async replacePasswordHash(id, expectedHash, hashedPassword) {
      return statements.replaceHash.run(hashedPassword, id, expectedHash).changes > 0
    },
    async setDisabled(username, disabled) {
      return statements.setDisabled.run(disabled ? 1 : 0, username).changes > 0
    },
    async removeUser(username) {
      return statements.remove.run(username).changes > 0
    },
    async close() {
      db.close()
    },
  }
}

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock first, so processes starting together migrate one at a time.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`)
    const current = db.prepare<[], { version: number | null }>('SELECT MAX(version) AS version FROM gatehouse_migrations').get()?.version ?? 0
    const latest = migrations.at(-1)?.version ?? 0
    if (current > latest) {
      throw new ConfigError(`the database is at schema version ${current}, newer than this Gatehouse knows (${latest}); upgrade Gatehouse`)
    }
    const record = db.prepare<[number, string]>('INSERT INTO gatehouse_migrations (version, name) VALUES (?, ?)')
    for (const migration of migrations) {
      if (migration.version <= current) continue
      migration.sqlite(db)
      record.run(migration.version, migration.name)
    }
  }).immediate()
}

function toRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    // A NULL hash (possible in the tutorial's schema) matches no password.
    hashedPassword: row.hashed_password ?? '',
    disabled: Boolean(row.disabled),
  }
}

function toDuplicateUser(error: unknown): DuplicateUser | undefined {
  if (!(error instanceof Database.SqliteError) || !error.code.startsWith('SQLITE_CONSTRAINT')) return undefined
  if (/\.email\b/.test(error.message)) return new DuplicateUser('email')
  if (/\.username\b/.test(error.message)) return new DuplicateUser('username')
  return undefined
}
