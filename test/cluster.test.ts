// `gatehouse serve --workers N` as a real process tree: workers share the port and the key, a crashed
// worker is replaced, and SIGTERM stops everything with exit code 0; and bin/gatehouse-server, which
// execs the same command with its runtime settings. Uses the build in dist/ (pretest).
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { seedUser, tempDir } from './helper.js'
import {
  spawnServerProcess,
  startServerProcess,
  type ServerProcess,
  type ServerProcessOptions,
} from './support/server-process.js'

interface LogLine {
  pid: number
  msg?: string
  req?: { path: string }
}

interface Answer {
  status: number
  body: string
}

/** One request on a fresh connection, so the primary can hand each to another worker. */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      )
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface Cluster {
  server: ServerProcess
  port: number
  logs(): LogLine[]
}

function serveOptions(dir: string, workers: number, launcher = false): ServerProcessOptions {
  return {
    program: launcher ? 'launcher' : 'serve',
    args: ['--workers', String(workers)],
    cwd: dir,
    // No SECRET_KEY: the primary must generate one and share it with every worker.
    env: { DATABASE_URL: 'sqlite:///users.db', LOG_LEVEL: 'info', LOGIN_MIN_DURATION_MS: '0' },
  }
}

async function startCluster(dir: string, workers: number, launcher = false): Promise<Cluster> {
  const server = await startServerProcess(serveOptions(dir, workers, launcher))
  const logs = (): LogLine[] =>
    server
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine)
  // Round robin only reaches workers that listen already; the first answer proves one of them.
  await until('every worker to listen', () =>
    servingPids(logs()).size === workers ? true : undefined,
  )
  return { server, port: server.port, logs }
}

const servingPids = (logs: LogLine[]): Set<number> =>
  new Set(
    logs.filter((line) => line.msg?.startsWith('Gatehouse is serving')).map((line) => line.pid),
  )

async function addUser(dir: string, username: string, password: string): Promise<void> {
  await seedUser('sqlite:///users.db', { username, password }, dir)
}

async function stop(cluster: Cluster): Promise<number | null> {
  return (await cluster.server.stop('SIGTERM', 5_000)).code
}

describe('bin/gatehouse-server (npm start)', () => {
  it('becomes the server process itself, with the tuned runtime settings, and exits 0 on SIGTERM', async () => {
    const dir = tempDir()
    const cluster = await startCluster(dir, 1, true)
    // exec: the launched PID is the one serving, so signals reach node directly.
    expect(servingPids(cluster.logs())).toEqual(new Set([cluster.server.pid]))
    const commandLine = readFileSync(`/proc/${cluster.server.pid}/cmdline`, 'utf8').split('\0')
    expect(commandLine).toEqual(
      expect.arrayContaining(['--max-semi-space-size=8', '--heap-growing-percent=50', 'serve']),
    )
    expect(readFileSync(`/proc/${cluster.server.pid}/environ`, 'utf8').split('\0')).toContain(
      'MALLOC_MMAP_THRESHOLD_=1048576',
    )
    expect(await stop(cluster)).toBe(0)
  })
})

describe('gatehouse serve --workers', () => {
  it('serves from two worker processes that share one generated key, and exits 0 on SIGTERM', async () => {
    const dir = tempDir()
    await addUser(dir, 'alice', 'alice-password')
    const cluster = await startCluster(dir, 2)

    const login = await send(
      cluster.port,
      'POST',
      '/token',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'username=alice&password=alice-password',
    )
    expect(login.status).toBe(200)
    const { access_token } = JSON.parse(login.body) as { access_token: string }
    // A token signed by one worker must be accepted by the other: both use the primary's key.
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        send(cluster.port, 'GET', '/users/me/', { authorization: `Bearer ${access_token}` }),
      ),
    )
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200))
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ username: 'alice' })

    const answeringPids = await until('the request logs', () => {
      const pids = new Set(
        cluster
          .logs()
          .filter((line) => line.req?.path === '/users/me/')
          .map((line) => line.pid),
      )
      return pids.size === 2 ? pids : undefined
    })
    expect(answeringPids.has(cluster.server.pid)).toBe(false)
    expect(readFileSync(join(dir, '.env'), 'utf8').match(/^SECRET_KEY=/gm)).toHaveLength(1)

    expect(await stop(cluster)).toBe(0)
  })

  it('replaces a worker that dies, and still exits 0 on SIGTERM', async () => {
    const cluster = await startCluster(tempDir(), 2)
    const [first] = servingPids(cluster.logs())
    process.kill(first!, 'SIGKILL')

    await until('a replacement worker', () =>
      servingPids(cluster.logs()).size === 3 ? true : undefined,
    )
    expect(
      cluster.logs().some((line) => line.msg === 'worker exited unexpectedly; restarting it'),
    ).toBe(true)
    expect((await send(cluster.port, 'GET', '/healthz')).status).toBe(200)
    expect(await stop(cluster)).toBe(0)
  })

  it('exits 1 instead of restarting workers that cannot start (port taken)', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => new Promise<void>((resolve) => taken.close(() => resolve())))
    const server = await spawnServerProcess({
      ...serveOptions(tempDir(), 2),
      port: (taken.address() as AddressInfo).port,
    })
    expect((await server.exited(15_000)).code).toBe(1)
  })
})
