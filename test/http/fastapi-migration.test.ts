// Drop-in: a users.db written by the FastAPI tutorial app, its bcrypt hashes and its .env names.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { build, tempDir, tokenRequest } from '../helper.js'
import { TUTORIAL_HASH } from '../support/tutorial-db.js'

function writeTutorialDb(dir: string): string {
  const filename = join(dir, 'users.db')
  const db = new Database(filename)
  db.exec(`CREATE TABLE users(id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT UNIQUE, full_name TEXT,
    email TEXT UNIQUE, hashed_password TEXT, disabled BOOLEAN DEFAULT 0)`)
  db.prepare(
    'INSERT INTO users (username, full_name, email, hashed_password, disabled) VALUES (?, ?, ?, ?, ?)',
  ).run('johndoe', 'John Doe', 'johndoe@example.com', TUTORIAL_HASH, 0)
  db.prepare(
    'INSERT INTO users (username, full_name, email, hashed_password, disabled) VALUES (?, ?, ?, ?, ?)',
  ).run('alice', 'Alice Wonderson', 'alice@example.com', TUTORIAL_HASH, 1)
  db.close()
  return filename
}

describe('migrating from a FastAPI tutorial app', () => {
  it('logs in a user with a $2b$12$ hash and upgrades it to argon2id', async () => {
    const dir = tempDir()
    const filename = writeTutorialDb(dir)
    const t = await build({ dir })
    const response = await t.app.inject(tokenRequest({ username: 'johndoe', password: 'secret' }))
    expect(response.statusCode).toBe(200)
    const upgraded = (await t.store.findUserByUsername('johndoe'))?.hashedPassword
    expect(upgraded).toMatch(/^\$argon2id\$/)
    // The upgraded hash keeps working, and the FastAPI columns are untouched otherwise.
    expect(
      (await t.app.inject(tokenRequest({ username: 'johndoe', password: 'secret' }))).statusCode,
    ).toBe(200)
    const me = await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${await t.login('johndoe', 'secret')}` },
    })
    expect(me.json()).toEqual({
      username: 'johndoe',
      email: 'johndoe@example.com',
      full_name: 'John Doe',
      disabled: false,
      // Never asked to verify: a user from the FastAPI app counts as verified.
      email_verified: true,
    })
    const raw = new Database(filename, { readonly: true })
    expect(raw.prepare('SELECT COUNT(*) FROM users').pluck().get()).toBe(2)
    raw.close()
  })

  it('does not upgrade on a wrong password, and keeps the disabled flag', async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    const t = await build({ dir })
    expect(
      (await t.app.inject(tokenRequest({ username: 'johndoe', password: 'wrong' }))).statusCode,
    ).toBe(401)
    expect((await t.store.findUserByUsername('johndoe'))?.hashedPassword).toBe(TUTORIAL_HASH)
    const disabled = await t.app.inject(tokenRequest({ username: 'alice', password: 'secret' }))
    expect(disabled.statusCode).toBe(400)
    expect(disabled.json()).toMatchObject({ detail: 'Inactive user' })
    expect((await t.store.findUserByUsername('alice'))?.hashedPassword).toBe(TUTORIAL_HASH)
  })

  it("reads the tutorial's .env names, and refuses its published SECRET_KEY with how to make one", async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    const tutorialEnv =
      'ALGORITHM=HS256\nACCESS_TOKEN_EXPIRE_MINUTES=30\nDATABASE_URL=sqlite:///users.db\n'
    const { loadConfig } = await import('../../src/config.js')
    writeFileSync(
      join(dir, '.env'),
      `SECRET_KEY=09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7\n${tutorialEnv}`,
    )
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/published.*openssl rand -hex 32/)

    writeFileSync(join(dir, '.env'), `SECRET_KEY=${'ab'.repeat(32)}\n${tutorialEnv}`)
    const config = loadConfig({ cwd: dir, env: {} })
    expect(config).toMatchObject({
      algorithm: 'HS256',
      accessTokenExpireMinutes: 30,
      databaseUrl: 'sqlite:///users.db',
    })
  })
})
