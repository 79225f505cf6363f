// The servers under load, each in its own child process on a free loopback port, so the harness (and
// autocannon) never share their memory or event loop: Gatehouse as `npm start` runs it (bin/gatehouse-server, dist/),
// and the floor server. Stopping sends SIGTERM, as an operator would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { openSync, readdirSync, statSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..')

/** Builds dist/ when it is missing or older than a source file: the bench measures the compiled server. */
export function ensureBuilt(): void {
  const built = statSync(join(ROOT, 'dist', 'cli.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter(
    (file) => file.endsWith('.ts'),
  )
  if (sources.every((file) => statSync(join(ROOT, 'src', file)).mtimeMs <= built)) return
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
  if (build.status !== 0) throw new Error('npm run build failed')
}

export interface ServerProcess {
  url: string
  pid: number
  stop(): Promise<void>
}

export interface GatehouseProcessOptions {
  dir: string
  /** DATABASE_URL of the server (SQLite file or PostgreSQL). */
  databaseUrl: string
  secretKey: string
  /** Where the JSON log lines (stdout) go. */
  logFile: string
  workers?: number
  /** Defaults to info, the production default: every request is logged. */
  logLevel?: string
}

export async function startGatehouse(options: GatehouseProcessOptions): Promise<ServerProcess> {
  const port = await freePort()
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    SECRET_KEY: options.secretKey,
    DATABASE_URL: options.databaseUrl,
    HOST: '127.0.0.1',
    LOG_LEVEL: options.logLevel ?? 'info',
  }
  const args = ['--port', String(port), '--workers', String(options.workers ?? 1)]
  // The launcher `npm start` runs; it execs node, so the child's PID is the server's.
  const child = spawn(join(ROOT, 'bin', 'gatehouse-server'), args, {
    cwd: options.dir,
    env,
    stdio: ['ignore', openSync(options.logFile, 'a'), 'inherit'],
  })
  return waitUntilServing(child, `http://127.0.0.1:${port}`, '/healthz')
}

export async function startFloor(secret: string): Promise<ServerProcess> {
  const port = await freePort()
  const env = { ...process.env, FLOOR_SECRET: secret, FLOOR_PORT: String(port) }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'floor-server.ts')],
    { env, stdio: ['ignore', 'inherit', 'inherit'] },
  )
  return waitUntilServing(child, `http://127.0.0.1:${port}`, '/users/me/')
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const running = new Set<ChildProcess>()
// Even when the harness dies on an error, no server is left behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

async function waitUntilServing(
  child: ChildProcess,
  url: string,
  probePath: string,
): Promise<ServerProcess> {
  let exited = false
  running.add(child)
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exit.then(() => {
    exited = true
    running.delete(child)
  })
  const stop = async (): Promise<void> => {
    if (exited) return
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exit
    clearTimeout(killer)
  }
  const deadline = Date.now() + 30_000
  for (;;) {
    // Any HTTP answer (even a 401) means the server listens.
    if (
      await fetch(url + probePath).then(
        () => true,
        () => false,
      )
    )
      break
    if (exited || Date.now() > deadline) {
      await stop()
      throw new Error(`the server at ${url} did not start`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return { url, pid: child.pid!, stop }
}
