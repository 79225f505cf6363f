// End to end with real processes: Gatehouse (`bin/gatehouse-server` on SQLite), a confidential client
// added with the CLI, and the example orders service (`node examples/resource-server/server.js`) in
// `events` mode. A logout at Gatehouse, and a user disabled with the CLI, are refused by the orders
// service within one second, measured.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_SECRET } from '../helper.js'
import {
  freePort,
  GATEHOUSE_BIN,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process.js'

const ROOT = resolve(import.meta.dirname, '..', '..')
const EXAMPLE = join(ROOT, 'examples', 'resource-server', 'server.js')
/** What the issue promises: a session that ends at Gatehouse is refused everywhere within a second. */
const WITHIN_MS = 1_000

const servers: ServerProcess[] = []
let dir: string
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop('SIGKILL')))
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Runs the gatehouse CLI to completion. */
async function cli(args: string[], env: Record<string, string>, cwd: string, input = '') {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end(input)
  const [code] = (await once(child, 'close')) as [number | null]
  if (code !== 0) throw new Error(`gatehouse ${args.join(' ')} exited with ${code}: ${stderr}`)
  return stdout
}

/** Milliseconds until `request` answers `status` (polled every 10 ms; fails after `limitMs`). */
async function msUntilStatus(request: () => Promise<Response>, status: number, limitMs: number) {
  const started = performance.now()
  for (;;) {
    const answer = await request()
    await answer.body?.cancel()
    const elapsed = performance.now() - started
    if (answer.status === status) return elapsed
    if (elapsed > limitMs) throw new Error(`still ${answer.status} after ${Math.round(elapsed)} ms`)
    await sleep(10)
  }
}

describe('the example orders service in events mode, with Gatehouse as a process', () => {
  let gatehouse: string
  let env: Record<string, string>
  let orders: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'))
    const port = await freePort()
    gatehouse = `http://127.0.0.1:${port}`
    env = {
      SECRET_KEY: TEST_SECRET,
      ALGORITHM: 'EdDSA',
      DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
      ISSUER: gatehouse,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      LOGIN_MIN_DURATION_MS: '0',
    }
    await cli(['users', 'add', 'alice', '--password-stdin'], env, dir, 'alice-password\n')
    const client = JSON.parse(
      await cli(
        [
          'clients',
          'add',
          'orders',
          '--confidential',
          '--resource',
          'http://127.0.0.1:8001',
          '--json',
        ],
        env,
        dir,
      ),
    ) as { client_id: string; client_secret: string }
    servers.push(
      await startServerProcess({ program: 'launcher', port, env, cwd: dir, shared: true }),
    )
    const example = await startServerProcess({
      program: { command: process.execPath, args: [EXAMPLE] },
      env: {
        GATEHOUSE_ISSUER: gatehouse,
        GATEHOUSE_CLIENT_ID: client.client_id,
        GATEHOUSE_CLIENT_SECRET: client.client_secret,
      },
      cwd: ROOT,
      shared: true,
      ready: { output: 'listening' },
    })
    servers.push(example)
    orders = example.url
  })

  const login = async () => {
    const answer = await fetch(`${gatehouse}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'alice-password' }),
    })
    expect(answer.status).toBe(200)
    return ((await answer.json()) as { access_token: string }).access_token
  }
  const getOrders = (token: string) =>
    fetch(`${orders}/orders`, { headers: { authorization: `Bearer ${token}` } })

  it('serves /orders to a logged-in user, and refuses the token within 1 s of a logout', async () => {
    const token = await login()
    const answer = await getOrders(token)
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual([{ id: 1, owner: 'alice' }])

    const logout = await fetch(`${gatehouse}/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(logout.status).toBe(204)
    const elapsed = await msUntilStatus(() => getOrders(token), 401, 5_000)
    console.log(`logout at Gatehouse -> 401 at the orders service: ${elapsed.toFixed(0)} ms`)
    expect(elapsed).toBeLessThan(WITHIN_MS)
  })

  it('refuses the token within 1 s of `gatehouse users disable`', async () => {
    const token = await login()
    expect((await getOrders(token)).status).toBe(200)
    // Measured from the moment the command has finished (the change is committed).
    await cli(['users', 'disable', 'alice'], env, dir)
    const elapsed = await msUntilStatus(() => getOrders(token), 401, 5_000)
    console.log(`users disable -> 401 at the orders service: ${elapsed.toFixed(0)} ms`)
    expect(elapsed).toBeLessThan(WITHIN_MS)
  })
})
