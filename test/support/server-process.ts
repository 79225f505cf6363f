// Real server processes for the tests that need one: Gatehouse as it is installed and run
// (`node bin/gatehouse.js serve`, or `bin/gatehouse-server` as `npm start` runs it, both on dist/), or
// another program that serves HTTP (an example, a documented snippet). One way to start them on a free
// port, wait until they are ready, read what they wrote, and stop them; and the free ports themselves.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { onTestFinished } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
/** The installed command (`gatehouse`). */
export const GATEHOUSE_BIN = join(ROOT, 'bin', 'gatehouse.js')
/** What `npm start` runs: `gatehouse serve` with tuned runtime settings. */
export const GATEHOUSE_LAUNCHER = join(ROOT, 'bin', 'gatehouse-server')

/** A port the system says is free now, for a server that must be told its port before it starts. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** When a started process counts as ready. */
export type Readiness =
  /** A GET of `path` answers 2xx (or anything at all, with `anyStatus`). */
  | { path: string; anyStatus?: boolean }
  /** This text has appeared in its output (stdout or stderr). */
  | { output: string }

export interface ServerProcessOptions {
  /**
   * What runs: `gatehouse serve` (the default), the `npm start` launcher, or another program. Gatehouse
   * is told its port with `--port`; another program finds it in PORT.
   */
  program?: 'serve' | 'launcher' | { command: string; args: string[] }
  /** More arguments for `serve` or the launcher, e.g. `--workers 2`. */
  args?: string[]
  /**
   * The process's whole environment besides PATH (which it may replace): nothing of the test runner's
   * own environment leaks into the server's configuration.
   */
  env?: Record<string, string | undefined>
  cwd: string
  /** Defaults to a free one. */
  port?: number
  /** Defaults to GET /healthz answering 2xx. */
  ready?: Readiness
  /** How long start may take (default 20 s). */
  timeoutMs?: number
  /** Its own process group, signalled as a whole: for a program that starts children (tsx). */
  processGroup?: boolean
  /** Started in beforeAll: the caller stops it. Otherwise it is killed when the current test finishes. */
  shared?: boolean
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ServerProcess {
  child: ChildProcess
  pid: number
  port: number
  /** http://127.0.0.1:<port> */
  url: string
  stdout(): string
  /** stdout and stderr as they arrived. */
  output(): string
  /** Resolves once it has exited (also when that happened before this was asked). */
  exited(timeoutMs?: number): Promise<Exit>
  /** Sends `signal` (default SIGTERM) and resolves with how it exited; rejects after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>
}

/** Starts a server process and resolves once it is ready; throws (with its output) if it exits first. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const server = await spawnServerProcess(options)
  try {
    await waitUntilReady(server, options.ready ?? { path: '/healthz' }, options.timeoutMs ?? 20_000)
  } catch (error) {
    if (server.child.exitCode === null && server.child.signalCode === null)
      await server.stop('SIGKILL')
    throw error
  }
  return server
}

/** Starts a server process without waiting for it, e.g. to see it refuse to start. */
export async function spawnServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const port = options.port ?? (await freePort())
  const program = options.program ?? 'serve'
  const extra = options.args ?? []
  const [command, args] =
    program === 'serve'
      ? [process.execPath, [GATEHOUSE_BIN, 'serve', '--port', String(port), ...extra]]
      : program === 'launcher'
        ? [GATEHOUSE_LAUNCHER, ['--port', String(port), ...extra]]
        : [program.command, program.args]
  const env = {
    PATH: process.env.PATH,
    ...options.env,
    ...(typeof program === 'object' ? { PORT: String(port) } : {}),
  }
  const child = spawn(command, args, {
    cwd: options.cwd,
    env,
    detached: options.processGroup ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) {
    const [error] = (await once(child, 'error')) as [Error]
    throw new Error(`could not start ${command}: ${error.message}`)
  }
  const pid = child.pid
  let stdout = ''
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    output += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  // Registered now, so that an exit before anyone asks is not missed.
  const exit = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const running = () => child.exitCode === null && child.signalCode === null
  const signal = (name: NodeJS.Signals) => {
    if (!running()) return
    if (options.processGroup) process.kill(-pid, name)
    else child.kill(name)
  }
  const exited = async (timeoutMs = 10_000): Promise<Exit> => {
    const timer = sleep(timeoutMs, 'timeout' as const, { ref: false })
    const result = await Promise.race([exit, timer])
    if (result === 'timeout')
      throw new Error(`${command} did not exit within ${timeoutMs} ms:\n${output}`)
    return result
  }
  if (!options.shared) onTestFinished(() => signal('SIGKILL'))
  return {
    child,
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout: () => stdout,
    output: () => output,
    exited,
    async stop(name = 'SIGTERM', timeoutMs) {
      signal(name)
      return exited(timeoutMs)
    },
  }
}

async function waitUntilReady(
  server: ServerProcess,
  ready: Readiness,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const isReady = async (): Promise<boolean> => {
    if ('output' in ready) return server.output().includes(ready.output)
    // Nothing else tells when a server listens: asked every 50 ms until it answers.
    return fetch(`${server.url}${ready.path}`).then(
      async (answer) => {
        await answer.body?.cancel()
        return ready.anyStatus === true || answer.ok
      },
      () => false,
    )
  }
  for (;;) {
    if (await isReady()) return
    const { exitCode, signalCode } = server.child
    if (exitCode !== null || signalCode !== null)
      throw new Error(
        `the server exited (${exitCode ?? signalCode}) before it was ready:\n${server.output()}`,
      )
    if (Date.now() > deadline)
      throw new Error(`the server was not ready within ${timeoutMs} ms:\n${server.output()}`)
    await sleep(50)
  }
}
