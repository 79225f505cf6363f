// `npx tsx bench/resource-server.ts` (and the last line of `npm run bench`): requests/s of the example
// orders service verifying Gatehouse tokens locally (the kit, EdDSA keys from the JWKS, revocation mode
// `events`: subscribed to the revocation stream, no call to Gatehouse per request) against the same
// service with no verification, each its own process under the same load; the ratio is what verifying
// costs. Gatehouse runs in this process and counts the requests it receives during the measurement.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildApp } from '../src/app.js'
import { createServices } from '../src/compose.js'
import { parseConfig } from '../src/config.js'
import { openStore } from '../src/store/open.js'
import { runLoad, type LoadResult } from './load.js'
import { formatNumber, formatRatio } from './report.js'

const ACTOR = { name: 'bench', ip: null, userAgent: null }

const UNVERIFIED = `
import express from 'express'
const app = express()
app.get('/orders', (req, res) => res.json([{ id: 1, owner: 'alice' }]))
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'))
`

export interface ResourceServerFigures {
  /** 200 answers per second of the example in events mode, and of the unverified service. */
  verifiedPerSecond: number
  plainPerSecond: number
  /** Answers other than 200 from the verifying service (a 503 would mean the stream was not ready). */
  verifiedFailures: number
  /** Requests Gatehouse received while the verifying service was measured (the stream excepted). */
  gatehouseCalls: number
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function start(args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)))
  })
  return child
}

export async function benchResourceServer(durationS = 10): Promise<ResourceServerFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-rs-'))
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const config = parseConfig({
    SECRET_KEY: 'bench-secret-key-that-is-long-enough-0123456789',
    ALGORITHM: 'EdDSA',
    ISSUER: issuer,
    DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
    LOGIN_MIN_DURATION_MS: '0',
    LOG_LEVEL: 'silent',
  })
  const store = await openStore(config.databaseUrl)
  const services = await createServices({ config, store })
  const app = await buildApp(services)
  let gatehouseCalls = 0
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/events/')) gatehouseCalls++
  })
  await app.listen({ port, host: '127.0.0.1' })
  const children: ChildProcess[] = []
  try {
    await services.accounts.add({ username: 'alice', password: 'correct horse battery' }, ACTOR)
    const client = await services.clients.add(
      { name: 'orders', confidential: true, resource: 'http://127.0.0.1:8001' },
      ACTOR,
    )
    const login = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=alice&password=correct+horse+battery',
    })
    const { access_token: token } = (await login.json()) as { access_token: string }
    const headers = { authorization: `Bearer ${token}` }

    const verifiedPort = await freePort()
    children.push(
      await start(['examples/resource-server/server.js'], {
        GATEHOUSE_ISSUER: issuer,
        GATEHOUSE_CLIENT_ID: client.client.client_id,
        GATEHOUSE_CLIENT_SECRET: client.secret!,
        PORT: String(verifiedPort),
      }),
    )
    const plainPort = await freePort()
    children.push(
      await start(['--input-type=module', '-e', UNVERIFIED], { PORT: String(plainPort) }),
    )
    const url = (p: number) => `http://127.0.0.1:${p}/orders`
    // Warm up (the JWKS fetch, the stream's ready, JIT), then measure one after the other.
    await runLoad({ url: url(verifiedPort), connections: 10, durationS: 1, headers })
    await runLoad({ url: url(plainPort), connections: 10, durationS: 1, headers })
    const before = gatehouseCalls
    const verified = await runLoad({ url: url(verifiedPort), connections: 10, durationS, headers })
    const calls = gatehouseCalls - before
    const plain = await runLoad({ url: url(plainPort), connections: 10, durationS, headers })
    const ok = (result: LoadResult) => (result.statusCounts['200'] ?? 0) / result.durationS
    return {
      verifiedPerSecond: ok(verified),
      plainPerSecond: ok(plain),
      verifiedFailures: verified.responses - (verified.statusCounts['200'] ?? 0) + verified.errors,
      gatehouseCalls: calls,
    }
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await app.close()
    await services.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export function formatResourceServerLine(figures: ResourceServerFigures): string {
  const { verifiedPerSecond, plainPerSecond, verifiedFailures, gatehouseCalls } = figures
  return (
    `kit: example verifying locally (events mode) ${formatNumber(verifiedPerSecond)} req/s, ` +
    `without verification ${formatNumber(plainPerSecond)} req/s, ` +
    `ratio ${formatRatio(verifiedPerSecond / plainPerSecond)}; ` +
    `calls to Gatehouse meanwhile: ${gatehouseCalls}` +
    (verifiedFailures > 0 ? `, failed answers: ${verifiedFailures}` : '')
  )
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await benchResourceServer(Number(process.env.BENCH_DURATION ?? 10))
  process.stdout.write(`${formatResourceServerLine(figures)}\n`)
}
