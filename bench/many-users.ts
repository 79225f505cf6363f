// `npm run bench -- --users 1000000`: does the size of the users table matter? Fills SQLite files with
// 1,000 and with N users fast (one transaction, one prepared insert, one shared argon2id hash) and
// compares Gatehouse's start-up time, memory and /users/me/ throughput on each.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { createPasswordHasher } from '../src/security/passwords.js'
import { openStore } from '../src/store/open.js'
import { runLoad } from './load.js'
import { peakRssMb, rssMb, sampleRss } from './memory.js'
import { formatNumber, formatTable } from './report.js'
import { startGatehouse } from './server-process.js'
import { BENCH_PASSWORD } from './users-fixture.js'

const BASELINE_USERS = 1_000

/** Creates the schema through the store (its migrations), then bulk-inserts outside it, which the store has no call for. */
async function fillUsers(
  databaseFile: string,
  count: number,
  hashedPassword: string,
): Promise<number> {
  await (await openStore(`sqlite:///${databaseFile}`)).close()
  const started = performance.now()
  const db = new Database(databaseFile)
  try {
    const insert = db.prepare<[string, string]>(
      'INSERT INTO users (username, hashed_password, disabled) VALUES (?, ?, 0)',
    )
    db.transaction(() => {
      for (let index = 0; index < count; index++) insert.run(`user-${index}`, hashedPassword)
    })()
  } finally {
    db.close()
  }
  return (performance.now() - started) / 1000
}

/** The database and its write-ahead log, where recent rows live until a checkpoint. */
function databaseMb(databaseFile: string): number {
  const bytes = [databaseFile, `${databaseFile}-wal`].reduce(
    (sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0),
    0,
  )
  return bytes / 1024 / 1024
}

export async function runManyUsers(count: number, durationS: number): Promise<void> {
  if (!Number.isInteger(count) || count < 1)
    throw new Error('--users wants a whole number of users, e.g. --users 1000000')
  const hashedPassword = await createPasswordHasher({ concurrency: 1, maxQueued: 1 }).hash(
    BENCH_PASSWORD,
  )
  const secretKey = randomBytes(32).toString('hex')
  const rows: string[][] = []
  for (const users of [BASELINE_USERS, count]) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-users-'))
    try {
      process.stderr.write(`bench: ${users.toLocaleString('en-US')} users\n`)
      const databaseFile = join(dir, 'users.db')
      const fillS = await fillUsers(databaseFile, users, hashedPassword)
      const started = performance.now()
      const gatehouse = await startGatehouse({
        dir,
        databaseUrl: `sqlite:///${databaseFile}`,
        secretKey,
        logFile: join(dir, 'gatehouse.log'),
      })
      try {
        const startS = (performance.now() - started) / 1000
        const rssAfterStart = rssMb(gatehouse.pid)
        const login = await fetch(`${gatehouse.url}/token`, {
          method: 'POST',
          body: new URLSearchParams({
            username: `user-${Math.floor(users / 2)}`,
            password: BENCH_PASSWORD,
          }),
        })
        const { access_token } = (await login.json()) as { access_token: string }
        const options = {
          url: `${gatehouse.url}/users/me/`,
          headers: { authorization: `Bearer ${access_token}` },
          connections: 64,
        }
        await runLoad({ ...options, durationS: Math.min(2, durationS / 5) })
        const sampler = sampleRss(gatehouse.pid)
        const me = await runLoad({ ...options, durationS })
        sampler.stop()
        rows.push([
          users.toLocaleString('en-US'),
          formatNumber(fillS),
          formatNumber(databaseMb(databaseFile)),
          formatNumber(startS),
          formatNumber(rssAfterStart),
          formatNumber(me.perSecond),
          formatNumber(me.p99Ms),
          formatNumber(peakRssMb(gatehouse.pid)),
        ])
      } finally {
        await gatehouse.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  process.stdout.write(
    `Users table size: start-up (until /healthz answers, timing-floor calibration included), memory and GET /users/me/ (64 connections, ${durationS} s)\n`,
  )
  process.stdout.write(
    `${formatTable(['users', 'fill s', 'file MB', 'start-up s', 'RSS at start MB', '/users/me/ req/s', 'p99 ms', 'peak RSS MB'], rows)}\n`,
  )
}
