// A PostgreSQL server of a test's own (initdb + pg_ctl on a temporary directory and a free port), for
// tests that stop and start the database: the shared test server is never touched. Without the server
// binaries the tests are skipped with a message, except in CI (CI=true), where they run and fail.
import { execFile } from 'node:child_process'
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { onTestFinished } from 'vitest'
import { freePort } from './server-process.js'

export interface PrivatePostgres {
  /** A superuser URL (trust authentication) of the server's `postgres` database. */
  url: string
  /** Stops the server (fast shutdown: open connections are cut), as an outage would. */
  stop(): Promise<void>
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>
}

const hasTools = (dir: string): boolean =>
  existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))

/** PG_BINDIR, else the newest Debian-style /usr/lib/postgresql/<version>/bin, else the PATH. */
function findBinDir(): string | undefined {
  if (process.env.PG_BINDIR)
    return hasTools(process.env.PG_BINDIR) ? process.env.PG_BINDIR : undefined
  const debian = '/usr/lib/postgresql'
  const versions = existsSync(debian)
    ? readdirSync(debian).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a))
    : []
  const candidates = [
    ...versions.map((version) => join(debian, version, 'bin')),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
  ]
  return candidates.find(hasTools)
}

/** The OS user the server runs as: PostgreSQL refuses to run as root, so root hands it to `postgres`. */
function findOwner(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'))
  const [, , uid, gid] = line?.split(':') ?? []
  return uid && gid ? { name: 'postgres', uid: Number(uid), gid: Number(gid) } : undefined
}

const binDir = findBinDir()
const owner = findOwner()
const runsAsRoot = process.getuid?.() === 0

function whyUnavailable(): string | undefined {
  if (!binDir)
    return 'no initdb and pg_ctl found (looked in PG_BINDIR, /usr/lib/postgresql/*/bin and PATH)'
  if (runsAsRoot && !owner)
    return 'running as root, and there is no postgres OS user to run the server as'
  if (runsAsRoot && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser'))
    return 'running as root, and runuser is missing to run the server as postgres'
  return undefined
}

const unavailable = whyUnavailable()

/** True when tests needing a private server must be skipped: none can be started here, and not in CI. */
export const skipPrivatePostgres = unavailable !== undefined && process.env.CI !== 'true'
if (skipPrivatePostgres)
  console.warn(
    `Tests on a private PostgreSQL server skipped: ${unavailable}. Install the PostgreSQL server, or set CI=true to make this a failure.`,
  )

/** Runs a PostgreSQL tool, as the postgres OS user when the tests run as root. */
async function runTool(tool: string, args: string[]): Promise<void> {
  const path = join(binDir!, tool)
  const [command, argv] = owner
    ? ['runuser', ['-u', owner.name, '--', path, ...args]]
    : [path, args]
  await new Promise<void>((resolve, reject) => {
    execFile(
      command,
      argv,
      { env: { ...process.env, LC_ALL: 'C' }, timeout: 120_000 },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || error.message}`))
        else resolve()
      },
    )
  })
}

/**
 * Creates, starts and returns a server of the current test's own; it is stopped and its directory
 * removed when the test finishes.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (unavailable) throw new Error(`cannot start a private PostgreSQL server: ${unavailable}`)
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'))
  if (owner) chownSync(root, owner.uid, owner.gid)
  const data = join(root, 'data')
  const ctl = (...args: string[]) => runTool('pg_ctl', ['-D', data, '-w', '-t', '60', ...args])
  onTestFinished(async () => {
    await ctl('-m', 'immediate', 'stop').catch(() => undefined)
    rmSync(root, { recursive: true, force: true })
  })

  await runTool('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-locale',
    '--no-sync',
  ])
  const port = await freePort()
  // Only TCP on loopback, the socket in the test's own directory, and no durability a test needs.
  appendFileSync(
    join(data, 'postgresql.conf'),
    [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${root}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      '',
    ].join('\n'),
  )
  const start = () => ctl('-l', join(root, 'server.log'), 'start')
  await start()
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    stop: () => ctl('-m', 'fast', 'stop'),
    start,
  }
}
