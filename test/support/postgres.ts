// PostgreSQL for tests: each test gets a schema of its own (gh_test_<random>), dropped afterwards,
// so test files run in parallel on one database. Without a reachable server the tests are skipped
// with a message, except in CI (CI=true), where they run and fail.
import { randomBytes } from 'node:crypto'
import { createServer, Socket } from 'node:net'
import pg from 'pg'
import { afterAll, onTestFinished } from 'vitest'

/** The database the tests use (TEST_DATABASE_URL); schemas are created and dropped in it. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'

const admin = new pg.Pool({
  connectionString: TEST_DATABASE_URL,
  max: 2,
  connectionTimeoutMillis: 3_000,
})
admin.on('error', () => undefined)
afterAll(() => admin.end())

async function probe(): Promise<string | undefined> {
  try {
    await admin.query('SELECT 1')
    return undefined
  } catch (error) {
    return (error as Error).message || String((error as { code?: unknown }).code)
  }
}

const unreachable = await probe()
const inCi = process.env.CI === 'true'

/** True when the PostgreSQL tests must be skipped: no server here, and not in CI. */
export const skipPostgres = unreachable !== undefined && !inCi
if (skipPostgres) {
  console.warn(
    `PostgreSQL tests skipped: ${TEST_DATABASE_URL} is unreachable (${unreachable}). Set TEST_DATABASE_URL, or CI=true to make this a failure.`,
  )
}

/** `TEST_DATABASE_URL` with `search_path` set to `schema`, as the startup `options` parameter. */
export function urlWithSchema(schema: string, url = TEST_DATABASE_URL): string {
  const withSchema = new URL(url)
  withSchema.searchParams.set('options', `-c search_path=${schema}`)
  return withSchema.toString()
}

/** Creates an empty schema for the current test, dropped when it finishes. */
export async function freshSchema(): Promise<{ schema: string; url: string; admin: pg.Pool }> {
  const schema = `gh_test_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  onTestFinished(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })
  return { schema, url: urlWithSchema(schema), admin }
}

/** A TCP relay to the test server that a test can cut, as a crashed or unplugged database would. */
export async function relay(): Promise<{ url: (schema: string) => string; cut: () => void }> {
  const target = new URL(TEST_DATABASE_URL)
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = new Socket()
    upstream.connect(Number(target.port || 5432), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => sockets.delete(socket))
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const cut = (): void => {
    server.close()
    for (const socket of sockets) socket.destroy()
  }
  onTestFinished(cut)
  return {
    url: (schema) => {
      const url = new URL(urlWithSchema(schema))
      url.host = `127.0.0.1:${port}`
      return url.toString()
    },
    cut,
  }
}
