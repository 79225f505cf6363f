// The code blocks of README.md and docs/*.md that are meant to run, run here, from the packages as a
// user installs them: `npm pack` of gatehouse-auth and gatehouse-auth-kit, the tarballs unpacked into a
// temporary project's node_modules, imported by name. A block is marked by an HTML comment before it
// (test/support/marked-snippets.ts; the marker syntax is in docs/development.md).
import { execFile } from 'node:child_process'
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
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { markedSnippets } from '../support/marked-snippets.js'
import { packPackages, ROOT, type PackedPackages } from '../support/packed-packages.js'
import { freePort, startServerProcess, type ServerProcess } from '../support/server-process.js'

const run = promisify(execFile)
const PACKAGE_NAME = 'gatehouse-auth'
const KIT_NAME = 'gatehouse-auth-kit'
/** The address the documentation uses; each block gets the address of the server it runs against. */
const DOCUMENTED_ADDRESS = '127.0.0.1:8000'
/** The address of another service that trusts Gatehouse (a `service` block), likewise. */
const DOCUMENTED_SERVICE_ADDRESS = '127.0.0.1:8001'

const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]

/** A project of the user's: package.json, the packed packages in node_modules, their dependencies linked. */
function createProject(): string {
  const project = mkdtempSync(join(tmpdir(), 'gatehouse-snippets-'))
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'my-app', private: true, type: 'module' }),
  )
  const modules = join(project, 'node_modules')
  mkdirSync(join(modules, '.bin'), { recursive: true })
  // Linked, not installed: npm install would fetch and compile better-sqlite3 (minutes, and the network).
  // The kit is a link to packages/kit/ in this checkout: its packed tarball goes there instead.
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry !== '.bin' && entry !== KIT_NAME && !entry.startsWith('.'))
      symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry))
  }
  for (const bin of readdirSync(join(ROOT, 'node_modules/.bin')))
    symlinkSync(join(ROOT, 'node_modules/.bin', bin), join(modules, '.bin', bin))
  return project
}

async function unpack(tarball: string, project: string, name: string): Promise<void> {
  const target = join(project, 'node_modules', name)
  mkdirSync(target)
  await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'])
  // What npm does with the package's `bin` on install.
  const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>
  }
  for (const [command, file] of Object.entries(manifest.bin ?? {}))
    symlinkSync(join(target, file), join(project, 'node_modules/.bin', command))
}

/** A clean environment: nothing of this process's configuration leaks into the user's. */
function userEnvironment(project: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: `${join(project, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    PORT: String(port),
    HOST: '127.0.0.1',
    // No measurement of the timing floor at start (seconds), and only problems in the output.
    LOGIN_MIN_DURATION_MS: '0',
    LOG_LEVEL: 'warn',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  }
}

interface Served {
  /** Gatehouse (`gatehouse serve` or a `server` block), or a `service` block that trusts it. */
  kind: 'gatehouse' | 'service'
  url: string
  server: ServerProcess
}

async function serve(
  command: string,
  args: string[],
  project: string,
  options: { service?: boolean; env?: Record<string, string> } = {},
): Promise<Served> {
  const service = options.service === true
  const port = await freePort()
  const server = await startServerProcess({
    program: { command, args },
    cwd: project,
    port,
    env: { ...userEnvironment(project, port), ...options.env },
    // Its own process group, so that tsx's child goes with it.
    processGroup: true,
    shared: true,
    timeoutMs: 30_000,
    // Gatehouse is ready when healthy; a service of the user's when it answers anything.
    ready: service ? { path: '/', anyStatus: true } : { path: '/healthz' },
  })
  return { kind: service ? 'service' : 'gatehouse', url: server.url, server }
}

async function stop(served: Served): Promise<void> {
  await served.server.stop()
}

describe('the code blocks of the README and docs/ run against the packed package', () => {
  let packed: PackedPackages | undefined
  let tarball = ''
  const projects: string[] = []
  const servers: Served[] = []

  beforeAll(async () => {
    packed = await packPackages()
    tarball = packed.server.tarball
  })

  afterAll(async () => {
    await Promise.all(servers.map(stop))
    for (const dir of projects) rmSync(dir, { recursive: true, force: true })
    packed?.remove()
  })

  /** Runs one document's marked blocks in order, in a fresh project; answers the servers it started. */
  async function runDocument(document: string): Promise<Served[]> {
    const snippets = markedSnippets(readFileSync(join(ROOT, document), 'utf8'))
    const project = createProject()
    projects.push(project)
    await unpack(tarball, project, PACKAGE_NAME)
    if (!packed) throw new Error('nothing was packed')
    await unpack(packed.kit.tarball, project, KIT_NAME)
    const started: Served[] = []
    let current: Served | undefined
    let service: Served | undefined
    const bin = (name: string) => join(project, 'node_modules/.bin', name)
    // A document with services runs Gatehouse as an installation migrated from the tutorial (HS256),
    // the case where a service could be tempted to borrow SECRET_KEY: the services get no key at all.
    const gatehouseEnv: Record<string, string> = snippets.some(
      (snippet) => snippet.kind === 'service',
    )
      ? { ALGORITHM: 'HS256' }
      : {}

    for (const snippet of snippets) {
      const where = `${document}:${snippet.line}`
      if (snippet.kind === 'server') {
        const file = `server-${snippet.line}.ts`
        writeFileSync(join(project, file), snippet.code)
        await typecheck(project, file, where)
        current = await serve(bin('tsx'), [file], project, { env: gatehouseEnv })
      } else if (snippet.kind === 'service') {
        // What the reader does first: a running Gatehouse, the service registered as a confidential
        // client that is a resource server (only those may introspect and follow the revocation
        // stream). Its credentials are all the service gets: never Gatehouse's SECRET_KEY.
        current ??= await serve(bin('gatehouse'), ['serve'], project, { env: gatehouseEnv })
        const { stdout } = await run(
          bin('gatehouse'),
          [
            'clients',
            'add',
            `service-${snippet.line}`,
            '--confidential',
            '--resource',
            `http://127.0.0.1:8001/service-${snippet.line}`,
            '--json',
          ],
          {
            cwd: project,
            env: {
              ...userEnvironment(project, Number(new URL(current.url).port)),
              ...gatehouseEnv,
            },
          },
        )
        const client = JSON.parse(stdout) as { client_id: string; client_secret: string }
        const file = `service-${snippet.line}.ts`
        writeFileSync(join(project, file), snippet.code)
        await typecheck(project, file, where)
        if (service) await stop(service)
        service = await serve(bin('tsx'), [file], project, {
          service: true,
          env: {
            GATEHOUSE_ISSUER: current.url,
            GATEHOUSE_CLIENT_ID: client.client_id,
            GATEHOUSE_CLIENT_SECRET: client.client_secret,
          },
        })
        started.push(service)
        servers.push(service)
      } else {
        // What `npm start` is in a clone: `gatehouse serve` from the installed package.
        current ??= await serve(bin('gatehouse'), ['serve'], project, { env: gatehouseEnv })
        const address = new URL(current.url).host
        let code = snippet.code.replaceAll(DOCUMENTED_ADDRESS, address)
        if (service) code = code.replaceAll(DOCUMENTED_SERVICE_ADDRESS, new URL(service.url).host)
        const env = {
          ...userEnvironment(project, Number(new URL(current.url).port)),
          ...gatehouseEnv,
        }
        const result = await run('bash', ['-euo', 'pipefail', '-c', code], {
          cwd: project,
          env,
          timeout: 20_000,
        }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
          throw new Error(`${where} failed: ${error.message}\n${error.stdout ?? ''}`)
        })
        if (snippet.expect !== undefined)
          expect(result.stdout, `${where}: the output`).toContain(snippet.expect)
      }
      if (!started.includes(current)) {
        started.push(current)
        servers.push(current)
      }
    }
    return started
  }

  async function typecheck(project: string, file: string, where: string): Promise<void> {
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
        files: [file],
      }),
    )
    await run(join(project, 'node_modules/.bin/tsc'), ['-p', project], { cwd: project }).catch(
      (error: { stdout?: string; message: string }) => {
        throw new Error(
          `${where} does not typecheck against the installed package:\n${error.stdout}`,
        )
      },
    )
  }

  it('packs what an installed package needs, and neither sources nor tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball])
    const files = stdout.split('\n').map((path) => path.replace(/^package\//, ''))
    for (const needed of [
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli.js',
      'bin/gatehouse.js',
      'bin/gatehouse-server',
      'public/index.html',
      'README.md',
      'docs/api.md',
      '.env.example',
    ])
      expect(files).toContain(needed)
    expect(files.filter((path) => /^(src|test|bench)\//.test(path))).toEqual([])
  })

  it('runs the README: the first user, curl, and a route of your own protected by a scope', async () => {
    const snippets = markedSnippets(readFileSync(join(ROOT, 'README.md'), 'utf8'))
    // The newcomer's path stays tested: removing a marker must not quietly shrink this test.
    expect(snippets.filter((snippet) => snippet.kind === 'shell').length).toBeGreaterThanOrEqual(3)
    expect(snippets.filter((snippet) => snippet.kind === 'server')).toHaveLength(1)
    expect(snippets.find((snippet) => snippet.kind === 'server')?.code).toContain(
      `from '${PACKAGE_NAME}'`,
    )

    const started = await runDocument('README.md')
    const embedded = started.filter((served) => served.kind === 'gatehouse').at(-1)
    if (!embedded) throw new Error('no server ran')
    const unauthenticated = await fetch(`${embedded.url}/orders`)
    expect(unauthenticated.status).toBe(401)
    expect(unauthenticated.headers.get('www-authenticate')).toBe('Bearer')

    const login = await fetch(`${embedded.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'wonderland-2024' }),
    })
    expect(login.status).toBe(200)
    const { access_token: token } = (await login.json()) as { access_token: string }
    const orders = await fetch(`${embedded.url}/orders`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(orders.status).toBe(200)
    expect(await orders.json()).toEqual([{ order_id: 1, owner: 'alice' }])
  }, 180_000)

  const pagesWithSnippets = DOCUMENTS.filter(
    (name) =>
      name !== 'README.md' &&
      name !== 'docs/resource-servers.md' &&
      markedSnippets(readFileSync(join(ROOT, name), 'utf8')).length > 0,
  )
  for (const document of pagesWithSnippets) {
    it(`runs the marked blocks of ${document}`, async () => {
      await runDocument(document)
    }, 60_000)
  }

  it('runs another service that trusts Gatehouse, one per framework of the kit, from docs/resource-servers.md', async () => {
    const document = 'docs/resource-servers.md'
    const snippets = markedSnippets(readFileSync(join(ROOT, document), 'utf8'))
    expect(
      snippets.filter((snippet) => snippet.kind === 'service').map((snippet) => snippet.code),
    ).toEqual([
      expect.stringContaining(`from '${KIT_NAME}/express'`),
      expect.stringContaining(`from '${KIT_NAME}/fastify'`),
      expect.stringContaining(`from '${KIT_NAME}/hono'`),
    ])
    const started = await runDocument(document)
    // Each service verified the HS256 Gatehouse's tokens without its secret, and said how, once.
    const services = started.filter((served) => served.kind === 'service')
    expect(services).toHaveLength(3)
    for (const service of services)
      expect(service.server.output().match(/verified by introspection/g)).toHaveLength(1)
  }, 180_000)
})
