import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { LATEST_SCHEMA_VERSION, migrations } from '../../src/store/migrations/index.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { AUDIT_DELETE_FLOOR_MS, type Store } from '../../src/store/contract.js'
import { tempDir } from '../helper.js'
import { SQLALCHEMY_SQLITE_SCHEMA } from '../support/tutorial-db.js'
import { storeContract } from './contract/index.js'

function openTemp(filename = join(tempDir(), 'users.db')): Store {
  const store = openSqliteStore(filename)
  onTestFinished(() => store.close())
  return store
}

storeContract(
  'SQLite',
  async () => openTemp(),
  async () => {
    const filename = join(tempDir(), 'users.db')
    const store = openTemp(filename)
    const db = new Database(filename)
    onTestFinished(() => {
      db.close()
    })
    return {
      store,
      sql: async (text) => {
        db.exec(text)
      },
    }
  },
)

describe('SQLite store', () => {
  it('uses WAL mode and a busy timeout', () => {
    const filename = join(tempDir(), 'users.db')
    openTemp(filename)
    const db = new Database(filename)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
  })

  it('opens a users.db written by SQLAlchemy, keeping its columns and rows, NULL flags included', async () => {
    const filename = join(tempDir(), 'users.db')
    const legacy = new Database(filename)
    legacy.exec(SQLALCHEMY_SQLITE_SCHEMA)
    legacy
      .prepare('INSERT INTO users (username, hashed_password, disabled) VALUES (?, ?, NULL)')
      .run('johndoe', '$2b$12$hash')
    legacy.close()

    const store = openTemp(filename)
    expect(await store.findUserByUsername('johndoe')).toMatchObject({
      username: 'johndoe',
      disabled: false,
      hashedPassword: '$2b$12$hash',
    })
    await store.close()

    const after = new Database(filename)
    const columns = after.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('users')
    expect(columns).toEqual([
      'id',
      'username',
      'full_name',
      'email',
      'hashed_password',
      'disabled',
      'scopes',
      'username_key',
      'credential_version',
      'email_verified',
    ])
    // The FastAPI app's own inserts (its columns only) keep working.
    after
      .prepare(
        'INSERT INTO users (username, full_name, email, hashed_password, disabled) VALUES (?, ?, ?, ?, ?)',
      )
      .run('jane', null, null, 'h', 0)
    // SQLAlchemy's own unique index is reused: no second one is added.
    const indexes = after
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users'")
      .pluck()
      .all()
    expect(indexes).not.toContain('gatehouse_users_username')
    after.close()
  })

  it('adds a unique username index to a table that has none', async () => {
    const filename = join(tempDir(), 'users.db')
    const legacy = new Database(filename)
    legacy.exec(
      'CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR, full_name VARCHAR, email VARCHAR, hashed_password VARCHAR, disabled BOOLEAN)',
    )
    legacy.close()
    openTemp(filename)
    const db = new Database(filename)
    const plan = db
      .prepare('EXPLAIN QUERY PLAN SELECT * FROM users WHERE username = ?')
      .all('x') as Array<{ detail: string }>
    expect(plan.map((step) => step.detail).join(' ')).toContain('gatehouse_users_username')
    db.close()
  })

  it('migrates once, also when opened again', async () => {
    const filename = join(tempDir(), 'users.db')
    void openTemp(filename).close()
    expect(await openTemp(filename).schemaVersion()).toBe(LATEST_SCHEMA_VERSION)
    const db = new Database(filename)
    expect(db.prepare('SELECT version FROM gatehouse_migrations').pluck().all()).toEqual(
      migrations.map((m) => m.version),
    )
    db.close()
  })

  it('refuses a database migrated by a newer Gatehouse', () => {
    const filename = join(tempDir(), 'users.db')
    void openSqliteStore(filename).close()
    const db = new Database(filename)
    db.prepare("INSERT INTO gatehouse_migrations (version, name) VALUES (999, 'future')").run()
    db.close()
    expect(() => openSqliteStore(filename)).toThrow(/schema version 999/)
  })

  it('keeps the audit log append-only against direct SQL, but for events past the deletion floor', () => {
    const filename = join(tempDir(), 'users.db')
    openTemp(filename)
    const db = new Database(filename)
    const insert = db.prepare<[number]>(
      "INSERT INTO gatehouse_audit (at, type, outcome) VALUES (?, 'login', 'success')",
    )
    insert.run(Date.now() - AUDIT_DELETE_FLOOR_MS - 60_000)
    insert.run(Date.now() - AUDIT_DELETE_FLOOR_MS + 60_000)
    expect(() => db.prepare("UPDATE gatehouse_audit SET outcome = 'x'").run()).toThrow(
      /append-only/,
    )
    expect(() => db.prepare('DELETE FROM gatehouse_audit').run()).toThrow(/append-only/)
    expect(db.prepare('SELECT COUNT(*) FROM gatehouse_audit').pluck().get()).toBe(2)
    const old = `DELETE FROM gatehouse_audit WHERE at < ${Date.now() - AUDIT_DELETE_FLOOR_MS}`
    expect(db.prepare(old).run().changes).toBe(1)
    db.close()
  })

  it('backfills username keys, and keeps a legacy database with look-alike usernames usable', () => {
    const filename = join(tempDir(), 'users.db')
    const legacy = new Database(filename)
    legacy.exec(SQLALCHEMY_SQLITE_SCHEMA)
    legacy.prepare('INSERT INTO users (username, hashed_password) VALUES (?, ?)').run('Bob', 'h')
    legacy.prepare('INSERT INTO users (username, hashed_password) VALUES (?, ?)').run('bob', 'h')
    legacy.close()
    openTemp(filename)
    const db = new Database(filename)
    expect(db.prepare('SELECT username_key FROM users ORDER BY id').pluck().all()).toEqual([
      'bob',
      'bob',
    ])
    db.close()
  })

  it('refuses a file that is not a SQLite database with a ConfigError', () => {
    const filename = join(tempDir(), 'not-a-db.db')
    writeFileSync(filename, 'hello, this is text and not a database '.repeat(100))
    expect(() => openSqliteStore(filename)).toThrow(ConfigError)
  })
})

describe('the migrations', () => {
  it('are numbered 1, 2, 3 ... in order, so that none is skipped by a database already past it', () => {
    expect(migrations.map((migration) => migration.version)).toEqual(
      migrations.map((_, index) => index + 1),
    )
  })
})
