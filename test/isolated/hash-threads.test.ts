// How many password hashes really run at once in the server `npm start` launches (bin/gatehouse-server,
// dist/): the hashing libraries run on libuv's thread pool, 4 threads unless UV_THREADPOOL_SIZE says
// otherwise, so HASH_CONCURRENCY=8 alone would still hash 4 at a time. Counted in the server's
// threads: during 8 logins at once, each thread that spent about a hash's CPU time ran one of them,
// so 4 threads with two hashes' worth each mean two rounds of 4, 8 threads with one each, one round.
// CPU time, not wall time: the count holds on a machine that other work keeps busy.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/open.js'
import { tempDir } from '../helper.js'
import { startServerProcess } from '../support/server-process.js'

const JOBS = 8
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100

/** CPU seconds of each thread of a process but its main one (the event loop), by thread id. */
function threadCpuSeconds(pid: number): Map<string, number> {
  const seconds = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    // utime and stime, fields 14 and 15: 12 and 13 after the command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    seconds.set(tid, (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND)
  }
  return seconds
}

async function startServer(env: Record<string, string>): Promise<{ url: string; pid: number }> {
  const dir = tempDir()
  const store = await openStore(`sqlite:///${join(dir, 'users.db')}`)
  // Cost 11: long enough (~100 ms a hash) for thread start-up and HTTP to be small beside it.
  const hash = await bcryptHash('the right password', 11)
  for (let index = 0; index < JOBS; index++)
    await store.createUser({ username: `user-${index}`, hashedPassword: hash })
  await store.close()
  // The launcher sizes libuv's pool itself unless UV_THREADPOOL_SIZE is set: only a test's own value is.
  const server = await startServerProcess({
    program: 'launcher',
    cwd: dir,
    env: {
      SECRET_KEY: 'hash-threads-test-secret-key-0123456789abcdef',
      DATABASE_URL: 'sqlite:///users.db',
      LOG_LEVEL: 'warn',
      LOGIN_MIN_DURATION_MS: '0',
      HASH_CONCURRENCY: String(JOBS),
      ...env,
    },
  })
  return { url: server.url, pid: server.pid }
}

/** The nice value of one thread of a process: field 19 of its stat line, 17 after the command name. */
function niceness(pid: number, tid: string): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

/** Threads that ran hashes during logins of JOBS users at once with a wrong password (one bcrypt verify each). */
async function hashingThreads(server: { url: string; pid: number }): Promise<number> {
  return (await hashingThreadIds(server)).length
}

async function hashingThreadIds({ url, pid }: { url: string; pid: number }): Promise<string[]> {
  const login = async (index: number): Promise<void> => {
    const answer = await fetch(`${url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: `user-${index}`, password: 'a wrong password' }),
    })
    expect(answer.status).toBe(401)
  }
  const before = threadCpuSeconds(pid)
  await Promise.all(Array.from({ length: JOBS }, (_, index) => login(index)))
  const spent = [...threadCpuSeconds(pid)].map(
    ([tid, seconds]) => [tid, seconds - (before.get(tid) ?? 0)] as const,
  )
  const oneHash = spent.reduce((sum, [, seconds]) => sum + seconds, 0) / JOBS
  // Half a hash's CPU time at least: V8's helper threads spend a few milliseconds, a hash ~100.
  return spent.filter(([, seconds]) => seconds >= oneHash / 2).map(([tid]) => tid)
}

describe('password hashing threads', () => {
  it('runs HASH_CONCURRENCY=8 hashes at once under bin/gatehouse-server, on any number of cores', async () => {
    expect(await hashingThreads(await startServer({}))).toBe(JOBS)
  })

  it('runs the hashing threads nicer than the event loop (HASH_THREAD_NICENESS, default 10)', async () => {
    const server = await startServer({})
    const threads = await hashingThreadIds(server)
    expect(threads).toHaveLength(JOBS)
    expect(threads.map((tid) => niceness(server.pid, tid))).toEqual(threads.map(() => 10))
    expect(niceness(server.pid, String(server.pid))).toBe(0)
    // Every thread of the pool (HASH_CONCURRENCY + 4), not only those that hashed, and nothing else.
    const niced = readdirSync(`/proc/${server.pid}/task`).filter(
      (tid) => niceness(server.pid, tid) === 10,
    )
    expect(niced).toHaveLength(JOBS + 4)
  })

  it('leaves the threads alone with HASH_THREAD_NICENESS=0', async () => {
    const server = await startServer({ HASH_THREAD_NICENESS: '0' })
    const threads = await hashingThreadIds(server)
    expect(threads.map((tid) => niceness(server.pid, tid))).toEqual(threads.map(() => 0))
  })

  it('keeps a UV_THREADPOOL_SIZE set by the operator: with 4 threads, 8 hashes take 4 threads', async () => {
    expect(await hashingThreads(await startServer({ UV_THREADPOOL_SIZE: '4' }))).toBe(4)
  })
})
