import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { InvalidInput } from '../../src/errors.js'
import { readSourceUsers } from '../../src/store/import-source.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { tempDir } from '../helper.js'
import { freshSchema, skipPostgres, TEST_DATABASE_URL } from '../support/postgres.js'
import { TUTORIAL_HASH, writeTutorialDb } from '../support/tutorial-db.js'

const digest = (filename: string) =>
  createHash('sha256').update(readFileSync(filename)).digest('hex')

describe('reading users to import from SQLite', () => {
  it("reads a FastAPI users.db's tutorial columns without changing the file", async () => {
    const dir = tempDir()
    const filename = writeTutorialDb(dir)
    const before = digest(filename)
    const users = await readSourceUsers('sqlite:///fastapi.db', dir)
    expect(users).toEqual([
      {
        username: 'johndoe',
        email: 'johndoe@example.com',
        fullName: 'John Doe',
        hashedPassword: TUTORIAL_HASH,
        disabled: false,
        scopes: null,
      },
      {
        username: 'alice',
        email: 'alice@example.com',
        fullName: 'Alice Wonderson',
        hashedPassword: TUTORIAL_HASH,
        disabled: true,
        scopes: null,
      },
      expect.objectContaining({ username: 'bob', email: null, disabled: false }) as unknown,
    ])
    expect(digest(filename)).toBe(before)
    expect(readdirSync(dir)).toEqual(['fastapi.db'])
  })

  it('reads the granted scopes of a Gatehouse database', async () => {
    const dir = tempDir()
    const store = openSqliteStore(join(dir, 'gatehouse.db'))
    await store.createUser({ username: 'carol', hashedPassword: 'h', scopes: ['items'] })
    await store.close()
    expect(await readSourceUsers(`sqlite:///${join(dir, 'gatehouse.db')}`)).toEqual([
      {
        username: 'carol',
        email: null,
        fullName: null,
        hashedPassword: 'h',
        disabled: false,
        scopes: ['items'],
      },
    ])
  })

  it('refuses a missing file without creating it, and other unusable sources, naming --from', async () => {
    const dir = tempDir()
    await expect(readSourceUsers('sqlite:///missing.db', dir)).rejects.toThrow(
      /^--from: cannot open the SQLite database/,
    )
    expect(readdirSync(dir)).toEqual([])

    new Database(join(dir, 'empty.db')).close()
    await expect(readSourceUsers('sqlite:///empty.db', dir)).rejects.toThrow(
      /^--from: .*empty\.db has no users table/,
    )
    const partial = new Database(join(dir, 'partial.db'))
    partial.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT)')
    partial.close()
    await expect(readSourceUsers('sqlite:///partial.db', dir)).rejects.toThrow(
      /lacks email, full_name, hashed_password, disabled/,
    )
    writeFileSync(join(dir, 'text.db'), 'not a database '.repeat(100))
    await expect(readSourceUsers('sqlite:///text.db', dir)).rejects.toBeInstanceOf(InvalidInput)
    await expect(readSourceUsers('mysql://u:hunter2@h/db', dir)).rejects.toThrow(
      /^--from: the 'mysql' database is not supported/,
    )
  })
})

describe.skipIf(skipPostgres)('reading users to import from PostgreSQL', () => {
  it('reads the tutorial columns in a read-only transaction, creating nothing', async () => {
    const { schema, url, admin } = await freshSchema()
    await admin.query(`CREATE TABLE ${schema}.users (id SERIAL PRIMARY KEY, username VARCHAR UNIQUE, full_name VARCHAR, email VARCHAR UNIQUE,
      hashed_password VARCHAR, disabled BOOLEAN)`)
    await admin.query(
      `INSERT INTO ${schema}.users (username, email, hashed_password, disabled) VALUES ('dave', 'dave@example.com', 'h', true)`,
    )
    expect(await readSourceUsers(url)).toEqual([
      {
        username: 'dave',
        email: 'dave@example.com',
        fullName: null,
        hashedPassword: 'h',
        disabled: true,
        scopes: null,
      },
    ])
    const tables = await admin.query('SELECT tablename FROM pg_tables WHERE schemaname = $1', [
      schema,
    ])
    expect(tables.rows).toEqual([{ tablename: 'users' }])
  })

  it('refuses a database without a users table, and an unreachable one, without the password', async () => {
    const { url } = await freshSchema()
    await expect(readSourceUsers(url)).rejects.toThrow(
      /^--from: the PostgreSQL database has no users table/,
    )
    const refused = new URL(TEST_DATABASE_URL)
    refused.host = '127.0.0.1:1'
    refused.password = 'hunter2'
    const failure = readSourceUsers(refused.toString())
    await expect(failure).rejects.toThrow(
      /^--from: cannot read the PostgreSQL database: .*ECONNREFUSED/,
    )
    await expect(failure).rejects.not.toThrow(/hunter2/)
  })
})
