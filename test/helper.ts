// Shared test set-up: an app on a fresh SQLite file in a temporary directory (or on the database a
// test names, e.g. a PostgreSQL schema of its own), closed after the test.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { onTestFinished } from 'vitest'
import { buildApp } from '../src/app.js'
import { createServices, type ServiceOptions, type Services } from '../src/compose.js'
import { parseConfig, type Config } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import type { PasswordHasher } from '../src/security/passwords.js'
import type { NewAccount } from '../src/services/accounts/accounts.js'
import type { RevocationEventOptions } from '../src/services/events/revocation-events.js'
import type { Actor } from '../src/services/shared/actor.js'
import type { Store } from '../src/store/contract.js'
import { openStore } from '../src/store/open.js'

export const TEST_SECRET = 'test-secret-key-that-is-long-enough-0123456789'

/** Who the audit log names for changes the tests make directly through the services. */
export const TEST_ACTOR: Actor = { name: 'cli:test', ip: null, userAgent: null }

/** A temporary directory removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Everything a log line ever contained, for asserting what must never be logged. */
export function captureLogs(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}

export interface TestApp {
  app: FastifyInstance
  services: Services
  store: Store
  config: Config
  hasher: PasswordHasher
  dir: string
  addUser(account: Partial<NewAccount> & { username: string }): Promise<void>
  login(username: string, password: string): Promise<string>
}

export interface BuildOptions {
  env?: Record<string, string>
  /** Defaults to users.db in `dir`. */
  databaseUrl?: string
  logs?: Writable
  dir?: string
  /** The revocation event streams' heartbeat and limits (services' defaults otherwise). */
  revocationEvents?: RevocationEventOptions
  /** The grant types /token offers (the registry's GRANTS otherwise). */
  grants?: ServiceOptions['grants']
}

export async function build(options: BuildOptions = {}): Promise<TestApp> {
  const t = await open({ ...options, dir: options.dir ?? tempDir() })
  onTestFinished(() => t.close())
  return t
}

/**
 * Like `build`, for an app shared by several tests (built in `beforeAll`): the caller closes it, which
 * also removes its directory unless one was given.
 */
export async function buildShared(
  options: BuildOptions = {},
): Promise<TestApp & { close(): Promise<void> }> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gatehouse-test-'))
  const t = await open({ ...options, dir })
  return {
    ...t,
    async close() {
      await t.close()
      if (!options.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function open(
  options: BuildOptions & { dir: string },
): Promise<TestApp & { close(): Promise<void> }> {
  const { dir } = options
  const config = parseConfig({
    SECRET_KEY: TEST_SECRET,
    DATABASE_URL: options.databaseUrl ?? `sqlite:///${join(dir, 'users.db')}`,
    LOGIN_MIN_DURATION_MS: '0',
    ...options.env,
  })
  const store = await openStore(config.databaseUrl, { poolSize: config.databasePoolSize })
  const logger = options.logs ? createLogger('debug', options.logs) : undefined
  const services = await createServices({
    config,
    store,
    logger,
    revocationEvents: options.revocationEvents,
    grants: options.grants,
  })
  const app = await buildApp(services)
  return {
    app,
    services,
    // What the services write through: a write here counts on the next request, as theirs do.
    store: services.store,
    config,
    hasher: services.hasher,
    dir,
    async close() {
      await app.close()
      await services.close()
      await store.close()
    },
    async addUser(account) {
      await services.accounts.add({ password: 'correct horse battery', ...account }, TEST_ACTOR)
    },
    async login(username, password) {
      const response = await app.inject(tokenRequest({ username, password }))
      if (response.statusCode !== 200)
        throw new Error(`login failed: ${response.statusCode} ${response.body}`)
      return response.json<{ access_token: string }>().access_token
    },
  }
}

/** Adds a user to the database at `databaseUrl` (e.g. before starting a server process on it). */
export async function seedUser(
  databaseUrl: string,
  account: NewAccount,
  cwd?: string,
): Promise<void> {
  const store = await openStore(databaseUrl, { cwd })
  try {
    const config = parseConfig({
      SECRET_KEY: TEST_SECRET,
      DATABASE_URL: databaseUrl,
      HASH_CONCURRENCY: '1',
    })
    const services = await createServices({ config, store })
    await services.accounts.add(account, TEST_ACTOR).finally(() => services.close())
  } finally {
    await store.close()
  }
}

/** An `inject` request for POST /token with these form fields. */
export function tokenRequest(
  fields: Record<string, string> | string,
  contentType = 'application/x-www-form-urlencoded',
) {
  const payload = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString()
  return {
    method: 'POST' as const,
    url: '/token',
    headers: { 'content-type': contentType },
    payload,
  }
}
