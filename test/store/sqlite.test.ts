import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { openSqliteStore } from '../../src/store/sqlite.js'
import type { UserStore } from '../../src/store/index.js'
import { tempDir } from '../helper.js'
import { storeContract } from './contract.js'

function openTemp(filename = join(tempDir(), 'users.db')): UserStore {
  const store = openSqliteStore(filename)
  onTestFinished(() => store.close())
  return store
}

storeContract('SQLite', async () => openTemp())

/** The table as FastAPI + SQLAlchemy's tutorial model creates it. */
const SQLALCHEMY_SCHEMA = `
CREATE TABLE users (
	id INTEGER NOT NULL,
	username VARCHAR,
	full_name VARCHAR,
	email VARCHAR,
	hashed_password VARCHAR,
	disabled BOOLEAN,
	PRIMARY KEY (id)
);
CREATE INDEX ix_users_id ON users (id);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ix_users_username ON users (username);`

describe('SQLite store', () => {
  it('uses WAL mode and a busy timeout', () => {
    const filename = join(tempDir(), 'users.db')
    openTemp(filename)
    const db = new Database(filename)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
  })

  it('opens a users.db written by SQLAlchemy without changing the users table, NULL flags included', async () => {
    const filename = join(tempDir(), 'users.db')
    const legacy = new Database(filename)
    legacy.exec(SQLALCHEMY_SCHEMA)
    legacy.prepare('INSERT INTO users (username, hashed_password, disabled) VALUES (?, ?, NULL)').run('johndoe', '$2b$12$hash')
    const before = legacy.prepare("SELECT sql FROM sqlite_master WHERE name = 'users'").pluck().get()
    legacy.close()

    const store = openTemp(filename)
    expect(await store.findUserByUsername('johndoe')).toMatchObject({ username: 'johndoe', disabled: false, hashedPassword: '$2b$12$hash' })
    await store.close()

    const after = new Database(filename)
    expect(after.prepare("SELECT sql FROM sqlite_master WHERE name = 'users'").pluck().get()).toBe(before)
    // SQLAlchemy's own unique index is reused: no second one is added.
    const indexes = after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users'").pluck().all()
    expect(indexes).not.toContain('gatehouse_users_username')
    after.close()
  })

  it('adds a unique username index to a table that has none', async () => {
    const filename = join(tempDir(), 'users.db')
    const legacy = new Database(filename)
    legacy.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR, full_name VARCHAR, email VARCHAR, hashed_password VARCHAR, disabled BOOLEAN)')
    legacy.close()
    openTemp(filename)
    const db = new Database(filename)
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT * FROM users WHERE username = ?').all('x') as Array<{ detail: string }>
    expect(plan.map((step) => step.detail).join(' ')).toContain('gatehouse_users_username')
    db.close()
  })

  it('migrates once, also when opened again', async () => {
    const filename = join(tempDir(), 'users.db')
    void openTemp(filename).close()
    openTemp(filename)
    const db = new Database(filename)
    expect(db.prepare('SELECT version FROM gatehouse_migrations').pluck().all()).toEqual([1])
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

  it('refuses a file that is not a SQLite database with a ConfigError', () => {
    const filename = join(tempDir(), 'not-a-db.db')
    writeFileSync(filename, 'hello, this is text and not a database '.repeat(100))
    expect(() => openSqliteStore(filename)).toThrow(ConfigError)
  })
})
