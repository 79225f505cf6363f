// Crash safety: the real server (`node bin/gatehouse.js serve`, from dist/) is killed with SIGKILL in
// the middle of a burst of writes (logins, refresh rotations, password changes, logouts), restarted,
// and the SQLite file is checked: intact, every write a client saw acknowledged is there, and no
// refresh family is left half-rotated. Then a crash between the two writes of a password change is
// injected, in-process for the API and in the database for the CLI (`gatehouse users passwd` as a
// child process): the new password must never be in effect while the old sessions live on.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { describe, expect, it, onTestFinished } from 'vitest'
import { build, seedUser, TEST_SECRET, tempDir, tokenRequest } from './helper.js'
import {
  freePort,
  GATEHOUSE_BIN,
  startServerProcess,
  type ServerProcess,
} from './support/server-process.js'
const WORKERS = 5

/** The real server as a child process on `port`, ready once /healthz answers. */
function startServer(dir: string, port: number): Promise<ServerProcess> {
  return startServerProcess({
    cwd: dir,
    port,
    env: {
      SECRET_KEY: TEST_SECRET,
      DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
      LOG_LEVEL: 'silent',
      LOGIN_MIN_DURATION_MS: '0',
      THROTTLE_PAIR_LIMIT: '1000000',
      THROTTLE_USER_LIMIT: '1000000',
      THROTTLE_IP_LIMIT: '1000000',
    },
  })
}

const hashOf = (refreshToken: string) =>
  createHash('sha256').update(refreshToken).digest('base64url')

/** A session as its client knows it: the latest refresh and access tokens it was acknowledged. */
interface Held {
  refresh: string
  access: string
  /** Ended by an acknowledged logout, or by an acknowledged password change in another session. */
  ended: boolean
}

interface Client {
  username: string
  /** The password of the last acknowledged change. */
  password: string
  sessions: Held[]
  /** The request under way when the server died: its outcome is unknown. */
  inFlight?: {
    kind: 'login' | 'refresh' | 'password' | 'logout'
    session?: Held
    newPassword?: string
  }
  acks: number
}

class UnexpectedAnswer extends Error {}

/** One client's loop: log in, refresh three times, change the password every other round, log out every third. */
async function runClient(base: string, client: Client, stop: { killed: boolean }): Promise<void> {
  const post = (path: string, init: { body: string; type: string; token?: string }) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      body: init.body,
      headers: {
        'content-type': init.type,
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
    })
  const expectStatus = (response: Response, status: number) => {
    if (response.status !== status)
      throw new UnexpectedAnswer(
        `${client.username}: ${client.inFlight?.kind} answered ${response.status}`,
      )
  }
  try {
    for (let round = 0; !stop.killed; round++) {
      client.inFlight = { kind: 'login' }
      const login = await post('/token', {
        body: new URLSearchParams({
          username: client.username,
          password: client.password,
        }).toString(),
        type: 'application/x-www-form-urlencoded',
      })
      expectStatus(login, 200)
      const tokens = (await login.json()) as { access_token: string; refresh_token: string }
      const held: Held = {
        refresh: tokens.refresh_token,
        access: tokens.access_token,
        ended: false,
      }
      client.sessions.push(held)
      client.inFlight = undefined
      client.acks += 1

      for (let i = 0; i < 3; i++) {
        client.inFlight = { kind: 'refresh', session: held }
        const refreshed = await post('/token', {
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: held.refresh,
          }).toString(),
          type: 'application/x-www-form-urlencoded',
        })
        expectStatus(refreshed, 200)
        const next = (await refreshed.json()) as { access_token: string; refresh_token: string }
        ;[held.refresh, held.access] = [next.refresh_token, next.access_token]
        client.inFlight = undefined
        client.acks += 1
      }

      if (round % 2 === 0) {
        const newPassword = `${client.username}-password-${round}-${Date.now()}`
        client.inFlight = { kind: 'password', session: held, newPassword }
        const changed = await post('/users/me/password', {
          body: JSON.stringify({ current_password: client.password, new_password: newPassword }),
          type: 'application/json',
          token: held.access,
        })
        expectStatus(changed, 204)
        client.password = newPassword
        for (const other of client.sessions) if (other !== held) other.ended = true
        client.inFlight = undefined
        client.acks += 1
      }

      if (round % 3 === 1) {
        client.inFlight = { kind: 'logout', session: held }
        expectStatus(
          await post('/logout', { body: '{}', type: 'application/json', token: held.access }),
          204,
        )
        held.ended = true
        client.inFlight = undefined
        client.acks += 1
      }
    }
  } catch (error) {
    // Only the kill may interrupt a client (its requests then fail to connect or lose their answer);
    // an answer with the wrong status is a failure whenever it comes.
    if (!stop.killed || error instanceof UnexpectedAnswer) throw error
  }
}

/** Checks the database after a crash against what the clients were told. */
function checkDatabase(file: string, clients: Client[]): void {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    expect(db.pragma('foreign_key_check')).toEqual([])

    // No half-rotated family: a live session has exactly one unspent refresh token.
    const families = db
      .prepare<[], { id: string; revoked_at: number | null; tokens: number; unspent: number }>(
        `SELECT s.id, s.revoked_at, COUNT(t.token_hash) AS tokens, COUNT(t.token_hash) - COUNT(t.spent_at) AS unspent
         FROM gatehouse_sessions s LEFT JOIN gatehouse_refresh_tokens t ON t.session_id = s.id GROUP BY s.id`,
      )
      .all()
    expect(families.length).toBeGreaterThan(0)
    for (const family of families) {
      expect(family.tokens, `session ${family.id}`).toBeGreaterThan(0)
      if (family.revoked_at === null) expect(family.unspent, `session ${family.id}`).toBe(1)
    }

    const tokenRow = db.prepare<
      [string],
      { session_id: string; spent_at: number | null; revoked_at: number | null }
    >(
      'SELECT t.session_id, t.spent_at, s.revoked_at FROM gatehouse_refresh_tokens t JOIN gatehouse_sessions s ON s.id = t.session_id WHERE t.token_hash = ?',
    )
    const unspentIn = db.prepare<[string], { n: number }>(
      'SELECT COUNT(*) AS n FROM gatehouse_refresh_tokens WHERE session_id = ? AND spent_at IS NULL',
    )
    for (const client of clients) {
      const { inFlight } = client
      for (const held of client.sessions) {
        // Every acknowledged login and rotation is there.
        const row = tokenRow.get(hashOf(held.refresh))
        expect(row, `${client.username}: an acknowledged refresh token is missing`).toBeDefined()
        if (held.ended) {
          // Every acknowledged logout and password change is there.
          expect(
            row!.revoked_at,
            `${client.username}: an acknowledged end of session was lost`,
          ).not.toBeNull()
          continue
        }
        const rotatedWhileDying = inFlight?.kind === 'refresh' && inFlight.session === held
        const endedWhileDying =
          (inFlight?.kind === 'logout' && inFlight.session === held) ||
          (inFlight?.kind === 'password' && inFlight.session !== held)
        if (row!.spent_at !== null) {
          // Spent: only by the rotation whose answer the crash swallowed, which left its successor.
          expect(
            rotatedWhileDying,
            `${client.username}: a refresh token was spent without a rotation in flight`,
          ).toBe(true)
          if (row!.revoked_at === null) expect(unspentIn.get(row!.session_id)!.n).toBe(1)
        }
        if (row!.revoked_at !== null)
          expect(endedWhileDying, `${client.username}: a live session was revoked`).toBe(true)
      }
    }
  } finally {
    db.close()
  }
}

/** Over HTTP on the restarted server: live sessions refresh, and the acknowledged password (or the one in flight) logs in. */
async function checkOverHttp(base: string, clients: Client[]): Promise<void> {
  const form = (fields: Record<string, string>) => ({
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  for (const client of clients) {
    const { inFlight } = client
    for (const held of client.sessions) {
      const touchedWhileDying =
        inFlight?.session === held || (inFlight?.kind === 'password' && inFlight.session !== held)
      if (held.ended || touchedWhileDying) continue
      const refreshed = await fetch(
        `${base}/token`,
        form({ grant_type: 'refresh_token', refresh_token: held.refresh }),
      )
      expect(
        refreshed.status,
        `${client.username}: an acknowledged refresh token no longer works`,
      ).toBe(200)
    }
    const acknowledged = await fetch(
      `${base}/token`,
      form({ username: client.username, password: client.password }),
    )
    if (inFlight?.kind === 'password') {
      const pending = await fetch(
        `${base}/token`,
        form({ username: client.username, password: inFlight.newPassword! }),
      )
      // Exactly one of them: the change either committed or it did not.
      expect([acknowledged.status, pending.status].sort()).toEqual([200, 401])
      if (pending.status === 200) client.password = inFlight.newPassword!
    } else {
      expect(
        acknowledged.status,
        `${client.username}: the acknowledged password does not log in`,
      ).toBe(200)
    }
  }
}

/** Runs the installed command (bin/gatehouse.js, on dist/) with `input` on its stdin. */
async function runCli(
  args: string[],
  input: string,
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', 'ignore', 'pipe'],
  })
  onTestFinished(() => void child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end(input)
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stderr }
}

/**
 * Makes the SQLite file refuse the second of a password change's two writes (the user's hash and the
 * user's sessions, in whichever order they come), as if the process had died between them.
 * `stop()` removes the injection and says how many of the two went through.
 */
function injectCrashAtSecondWrite(file: string): { stop(): number } {
  const db = new Database(file)
  onTestFinished(() => void (db.open && db.close()))
  db.pragma('busy_timeout = 5000')
  const tables = ['users', 'gatehouse_sessions']
  // An aborted statement takes its own mark back with it: only the writes that went through stay marked.
  db.exec(`CREATE TABLE crash_injection (written TEXT PRIMARY KEY);
    ${tables
      .map(
        (table) => `CREATE TRIGGER crash_injection_${table} BEFORE UPDATE ON ${table} BEGIN
          INSERT OR IGNORE INTO crash_injection (written) VALUES ('${table}');
          SELECT RAISE(ABORT, 'simulated crash') WHERE (SELECT COUNT(*) FROM crash_injection) > 1;
        END;`,
      )
      .join('\n')}`)
  return {
    stop() {
      const { n } = db
        .prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM crash_injection')
        .get()!
      db.exec(
        `${tables.map((table) => `DROP TRIGGER crash_injection_${table};`).join('')} DROP TABLE crash_injection;`,
      )
      db.close()
      return n
    },
  }
}

describe('crash safety', () => {
  it('keeps every acknowledged write and no half-rotated refresh family across SIGKILL in the middle of a burst', async () => {
    const dir = tempDir()
    const file = join(dir, 'users.db')
    const passwords = new Map<string, string>()
    for (let i = 0; i < WORKERS; i++) {
      passwords.set(`client-${i}`, `initial-password-${i}`)
      await seedUser(`sqlite:///${file}`, {
        username: `client-${i}`,
        password: `initial-password-${i}`,
      })
    }

    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    let server = await startServer(dir, port)
    for (let cycle = 0; cycle < 2; cycle++) {
      const clients: Client[] = [...passwords].map(([username, password]) => ({
        username,
        password,
        sessions: [],
        acks: 0,
      }))
      const stop = { killed: false }
      const running = clients.map((client) => runClient(base, client, stop))
      // Kill once the burst is well under way, at a moment that varies with the machine's speed.
      while (clients.reduce((sum, client) => sum + client.acks, 0) < 40 + 20 * cycle) await sleep(5)
      stop.killed = true
      const killed = server.stop('SIGKILL')
      await Promise.all(running)
      expect((await killed).signal).toBe('SIGKILL')
      console.log(
        `cycle ${cycle}: ${clients.reduce((sum, client) => sum + client.acks, 0)} writes acknowledged, in flight at the kill: ${clients.map((client) => client.inFlight?.kind ?? 'none').join(', ')}`,
      )

      server = await startServer(dir, port)
      checkDatabase(file, clients)
      await checkOverHttp(base, clients)
      for (const client of clients) passwords.set(client.username, client.password)
    }
    await server.stop()
  }, 90_000)

  it.each(['the API (POST /users/me/password)', 'the CLI (gatehouse users passwd)'])(
    'never leaves a new password in effect with the old sessions alive when a crash splits a change through %s',
    async (path) => {
      const t = await build()
      await t.addUser({ username: 'alice', password: 'alice-password' })
      const other = await t.login('alice', 'alice-password')
      const current = await t.login('alice', 'alice-password')
      // The database refuses the change's second write (users, then sessions, or the other way),
      // as a process dying between the two would leave it.
      const writes = injectCrashAtSecondWrite(join(t.dir, 'users.db'))
      if (path.startsWith('the API')) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/users/me/password',
          headers: { authorization: `Bearer ${current}` },
          payload: { current_password: 'alice-password', new_password: 'brand-new-password' },
        })
        expect(response.statusCode).toBe(500)
      } else {
        // The command itself, as an operator runs it, on the same database.
        const result = await runCli(
          ['users', 'passwd', 'alice', '--password-stdin'],
          'brand-new-password\n',
          { DATABASE_URL: t.config.databaseUrl, SECRET_KEY: TEST_SECRET },
          t.dir,
        )
        expect(result.code).toBe(1)
        expect(result.stderr).toContain('simulated crash')
      }
      // Both writes are one transaction: the refused one took the other back with it.
      expect(writes.stop()).toBe(0)
      expect(
        (await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' })))
          .statusCode,
      ).toBe(200)
      const newPasswordWorks =
        (await t.app.inject(tokenRequest({ username: 'alice', password: 'brand-new-password' })))
          .statusCode === 200
      const oldSessionLives =
        (
          await t.app.inject({
            method: 'GET',
            url: '/users/me/',
            headers: { authorization: `Bearer ${other}` },
          })
        ).statusCode === 200
      expect({ newPasswordWorks, oldSessionLives }).not.toEqual({
        newPasswordWorks: true,
        oldSessionLives: true,
      })
    },
  )
})
