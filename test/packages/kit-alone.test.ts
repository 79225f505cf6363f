// What an orders service gets from `npm install gatehouse-auth-kit`: the kit's packed tarball installed
// alone into an empty project brings jose and eventsource-parser and nothing else (no native module, no
// database driver, none of the server), and the Express service of docs/resource-servers.md runs from that install
// against a real Gatehouse: a logged-in user's token is served, the same token refused after logout.
import { execFile, execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_SECRET } from '../helper.js'
import { markedSnippets } from '../support/marked-snippets.js'
import { packPackages, ROOT, type PackedPackages } from '../support/packed-packages.js'
import {
  freePort,
  GATEHOUSE_BIN,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process.js'

const run = promisify(execFile)
const KIT_NAME = 'gatehouse-auth-kit'

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
}

/** The names of the installed packages: every `node_modules/<name>/package.json`, at any depth. */
function installedPackages(modules: string): string[] {
  const names = new Set<string>()
  for (const file of filesUnder(modules)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/.exec(
      `node_modules/${file}`,
    )
    if (match?.[1]) names.add(match[1])
  }
  return [...names].sort()
}

describe('gatehouse-auth-kit installed alone', () => {
  let packed: PackedPackages | undefined
  let project = ''
  let gatehouseDir = ''
  const servers: ServerProcess[] = []

  beforeAll(async () => {
    packed = await packPackages()
    project = mkdtempSync(join(tmpdir(), 'gatehouse-kit-alone-'))
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'orders', private: true, type: 'module' }),
    )
    // What the orders service's developer types. The registry is only asked for what the local npm
    // cache lacks (jose and eventsource-parser, usually cached by this checkout's own install).
    await run(
      'npm',
      ['install', packed.kit.tarball, '--prefer-offline', '--no-audit', '--no-fund'],
      {
        cwd: project,
        env: { ...process.env, npm_config_update_notifier: 'false' },
        timeout: 120_000,
      },
    )
  }, 150_000)

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')))
    for (const dir of [project, gatehouseDir])
      if (dir) rmSync(dir, { recursive: true, force: true })
    packed?.remove()
  })

  it('installs jose and eventsource-parser and nothing else: no native module, no driver', () => {
    const modules = join(project, 'node_modules')
    expect(installedPackages(modules)).toEqual(['eventsource-parser', 'gatehouse-auth-kit', 'jose'])
    const files = filesUnder(modules)
    expect(files.filter((file) => file.endsWith('.node'))).toEqual([])
    expect(files.filter((file) => file.endsWith('binding.gyp'))).toEqual([])
    for (const driver of ['pg', 'better-sqlite3', 'ioredis', '@node-rs/argon2', 'fastify'])
      expect(installedPackages(modules)).not.toContain(driver)
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    expect(Object.keys(manifest.dependencies)).toEqual([KIT_NAME])
  })

  it('runs the Express service of docs/resource-servers.md from that install against a real Gatehouse', async () => {
    const readme = readFileSync(join(ROOT, 'docs/resource-servers.md'), 'utf8')
    const service = markedSnippets(readme).find(
      (snippet) => snippet.kind === 'service' && snippet.code.includes(`'${KIT_NAME}/express'`),
    )
    if (!service)
      throw new Error(`docs/resource-servers.md has no service block importing ${KIT_NAME}/express`)

    // The service's own tools, which are not the kit's to install: Express with its types, tsx and
    // TypeScript, linked from this checkout (installing them would only test the registry).
    const modules = join(project, 'node_modules')
    for (const entry of ['express', '@types', 'tsx', 'typescript'])
      symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry))
    mkdirSync(join(modules, '.bin'), { recursive: true })
    for (const bin of ['tsx', 'tsc'])
      symlinkSync(join(ROOT, 'node_modules/.bin', bin), join(modules, '.bin', bin))
    writeFileSync(join(project, 'orders.ts'), service.code)
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['orders.ts'],
      }),
    )
    // It typechecks against the installed kit's own declarations.
    await run(join(modules, '.bin/tsc'), ['-p', project], { cwd: project }).catch(
      (error: { stdout?: string; message: string }) => {
        throw new Error(
          `docs/resource-servers.md:${service.line} does not typecheck:\n${error.stdout ?? ''}`,
        )
      },
    )

    // A real Gatehouse (this checkout's build), with a user and the service's confidential client.
    gatehouseDir = mkdtempSync(join(tmpdir(), 'gatehouse-kit-alone-server-'))
    const port = await freePort()
    const gatehouse = `http://127.0.0.1:${port}`
    const env = {
      PATH: process.env.PATH ?? '',
      SECRET_KEY: TEST_SECRET,
      ALGORITHM: 'EdDSA',
      DATABASE_URL: `sqlite:///${join(gatehouseDir, 'users.db')}`,
      ISSUER: gatehouse,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      LOGIN_MIN_DURATION_MS: '0',
    }
    const cli = (args: string[], input = '') =>
      execFileSync(process.execPath, [GATEHOUSE_BIN, ...args], { cwd: gatehouseDir, env, input })
    cli(['users', 'add', 'alice', '--password-stdin'], 'wonderland-2024\n')
    const client = JSON.parse(
      cli([
        'clients',
        'add',
        'orders',
        '--confidential',
        '--resource',
        'http://127.0.0.1:8001',
        '--json',
      ]).toString(),
    ) as { client_id: string; client_secret: string }
    servers.push(await startServerProcess({ port, env, cwd: gatehouseDir, shared: true }))

    const orders = await startServerProcess({
      program: { command: join(modules, '.bin/tsx'), args: ['orders.ts'] },
      cwd: project,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME,
        GATEHOUSE_ISSUER: gatehouse,
        GATEHOUSE_CLIENT_ID: client.client_id,
        GATEHOUSE_CLIENT_SECRET: client.client_secret,
      },
      processGroup: true,
      shared: true,
      timeoutMs: 30_000,
      ready: { path: '/', anyStatus: true },
    })
    servers.push(orders)

    const login = await fetch(`${gatehouse}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'wonderland-2024' }),
    })
    expect(login.status).toBe(200)
    const { access_token: token } = (await login.json()) as { access_token: string }
    const getOrders = () =>
      fetch(`${orders.url}/orders`, { headers: { authorization: `Bearer ${token}` } })
    const served = await getOrders()
    expect(served.status).toBe(200)
    expect(await served.json()).toEqual([{ id: 1, owner: 'alice' }])
    expect((await fetch(`${orders.url}/orders`)).status).toBe(401)

    const logout = await fetch(`${gatehouse}/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(logout.ok).toBe(true)
    // The revocation stream carries the logout within a second (the page's `sleep 1`).
    let refused = await getOrders()
    for (let waited = 0; refused.status !== 401 && waited < 2_000; waited += 50) {
      await refused.body?.cancel()
      await sleep(50)
      refused = await getOrders()
    }
    expect(refused.status).toBe(401)
    expect(await refused.json()).toEqual({ detail: 'Could not validate credentials' })
  }, 120_000)
})
