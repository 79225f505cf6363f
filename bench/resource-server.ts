// `npx tsx bench/resource-server.ts`: requests/s of the example orders service verifying Gatehouse
// tokens locally (the kit, EdDSA keys from the JWKS, revocation mode `none`) against the same service
// with no verification, each its own process under the same load; the ratio is what verifying costs.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../src/app.js'
import { createServices } from '../src/compose.js'
import { parseConfig } from '../src/config.js'
import { openStore } from '../src/store/index.js'
import { runLoad } from './load.js'
import { formatNumber, formatRatio } from './report.js'

const durationS = Number(process.env.BENCH_DURATION ?? 10)

const UNVERIFIED = `
import express from 'express'
const app = express()
app.get('/orders', (req, res) => res.json([{ id: 1, owner: 'alice' }]))
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'))
`

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

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-rs-'))
const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const config = parseConfig({
  SECRET_KEY: 'bench-secret-key-that-is-long-enough-0123456789',
  ALGORITHM: 'EdDSA',
  ISSUER: issuer,
  DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
  LOGIN_MIN_DURATION_MS: '0',
})
const store = await openStore(config.databaseUrl)
const services = await createServices({ config, store })
const app = await buildApp(services)
await app.listen({ port, host: '127.0.0.1' })
await services.accounts.add(
  { username: 'alice', password: 'correct horse battery' },
  { name: 'bench', ip: null, userAgent: null },
)
const login = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'username=alice&password=correct+horse+battery',
})
const { access_token: token } = (await login.json()) as { access_token: string }
const headers = { authorization: `Bearer ${token}` }

const children: ChildProcess[] = []
try {
  const verifiedPort = await freePort()
  children.push(
    await start(['examples/resource-server/server.js'], {
      GATEHOUSE_ISSUER: issuer,
      PORT: String(verifiedPort),
    }),
  )
  const plainPort = await freePort()
  children.push(await start(['--input-type=module', '-e', UNVERIFIED], { PORT: String(plainPort) }))
  const url = (p: number) => `http://127.0.0.1:${p}/orders`
  // Warm up (JWKS fetch, JIT), then measure one after the other.
  await runLoad({ url: url(verifiedPort), connections: 10, durationS: 1, headers })
  await runLoad({ url: url(plainPort), connections: 10, durationS: 1, headers })
  const verified = await runLoad({ url: url(verifiedPort), connections: 10, durationS, headers })
  const plain = await runLoad({ url: url(plainPort), connections: 10, durationS, headers })
  const ok = (result: typeof verified) => (result.statusCounts['200'] ?? 0) / result.durationS
  process.stdout.write(
    `kit: example verifying locally ${formatNumber(ok(verified))} req/s, without verification ${formatNumber(ok(plain))} req/s, ratio ${formatRatio(ok(verified) / ok(plain))}\n`,
  )
} finally {
  for (const child of children) child.kill('SIGTERM')
  await app.close()
  await services.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
