// Many instances: two Gatehouse processes on one PostgreSQL database and one Redis share everything
// that matters (tokens, logouts, password changes, refresh rotation, throttling); and when PostgreSQL
// goes away and comes back, requests fail fast with 503 and then recover by themselves.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { seedUser, tempDir } from '../helper.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'
import { skipPrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js'
import { startServerProcess } from '../support/server-process.js'
import { requireService } from '../support/services.js'

const redisUp = await requireService('Redis', '127.0.0.1', 6379)

interface Instance {
  url: string
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const server = await startServerProcess({ cwd: tempDir(), env, ready: { path: '/readyz' } })
  return { url: server.url }
}

/** Two instances on `databaseUrl` (by default a schema of the shared test server), with a user. */
async function twoInstances(
  databaseUrl?: string,
): Promise<{ a: Instance; b: Instance; username: string }> {
  databaseUrl ??= (await freshSchema()).url
  const username = `user-${randomBytes(4).toString('hex')}`
  await seedUser(databaseUrl, { username, password: 'first-passphrase' })
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: 'redis://127.0.0.1:6379',
    SECRET_KEY: `scale-out-test-secret-${randomBytes(16).toString('hex')}`,
    ISSUER: 'https://auth.example.test',
    LOG_LEVEL: 'silent',
    LOGIN_MIN_DURATION_MS: '0',
    // Strict reuse detection across instances (the grace for retries has tests of its own).
    REFRESH_REUSE_GRACE_SECONDS: '0',
  }
  const [a, b] = await Promise.all([startInstance(env), startInstance(env)])
  return { a, b, username }
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  body: new URLSearchParams(fields),
})
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

async function login(
  instance: Instance,
  username: string,
  password: string,
): Promise<{ access_token: string; refresh_token: string }> {
  const response = await fetch(`${instance.url}/token`, form({ username, password }))
  expect(response.status).toBe(200)
  return (await response.json()) as { access_token: string; refresh_token: string }
}

const status = async (url: string, init?: RequestInit) => (await fetch(url, init)).status

describe.skipIf(skipPostgres || !redisUp)('two instances on one PostgreSQL and Redis', () => {
  it(
    'share tokens, logouts, password changes, refresh rotation and throttling',
    { timeout: 60_000 },
    async () => {
      const { a, b, username } = await twoInstances()

      // A token from A works on B.
      const first = await login(a, username, 'first-passphrase')
      expect(await status(`${b.url}/users/me/`, bearer(first.access_token))).toBe(200)

      // A logout on A is enforced on B at once.
      expect(
        await status(`${a.url}/logout`, { method: 'POST', ...bearer(first.access_token) }),
      ).toBe(204)
      expect(await status(`${b.url}/users/me/`, bearer(first.access_token))).toBe(401)

      // A refresh token rotated on A is detected as reused on B, which ends the session everywhere.
      const second = await login(b, username, 'first-passphrase')
      const rotated = await fetch(
        `${a.url}/token`,
        form({ grant_type: 'refresh_token', refresh_token: second.refresh_token }),
      )
      expect(rotated.status).toBe(200)
      const third = (await rotated.json()) as { access_token: string }
      expect(
        await status(
          `${b.url}/token`,
          form({ grant_type: 'refresh_token', refresh_token: second.refresh_token }),
        ),
      ).toBe(400)
      expect(await status(`${a.url}/users/me/`, bearer(third.access_token))).toBe(401)

      // A password change on A ends the other sessions, on B too.
      const onB = await login(b, username, 'first-passphrase')
      const onA = await login(a, username, 'first-passphrase')
      const changed = await fetch(`${a.url}/users/me/password`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${onA.access_token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          current_password: 'first-passphrase',
          new_password: 'second-passphrase',
        }),
      })
      expect(changed.status).toBe(204)
      expect(await status(`${b.url}/users/me/`, bearer(onB.access_token))).toBe(401)
      expect(await status(`${b.url}/users/me/`, bearer(onA.access_token))).toBe(200)

      // Throttling counts the attempts made on both.
      for (const instance of [a, a, b, b, a])
        expect(await status(`${instance.url}/token`, form({ username, password: 'wrong' }))).toBe(
          401,
        )
      expect(
        await status(`${b.url}/token`, form({ username, password: 'second-passphrase' })),
      ).toBe(429)
    },
  )
})

describe.skipIf(skipPrivatePostgres || !redisUp)('when PostgreSQL goes away', () => {
  it(
    'answers 503 quickly while it is down and recovers by itself when it returns',
    { timeout: 90_000 },
    async () => {
      // A server of the test's own: stopping it leaves the shared test server to the other tests.
      const server = await startPrivatePostgres()
      const { a, username } = await twoInstances(server.url)
      const { access_token } = await login(a, username, 'first-passphrase')

      await server.stop()
      const started = Date.now()
      const down = await fetch(`${a.url}/users/me/`, bearer(access_token))
      expect(down.status).toBe(503)
      expect(down.headers.get('retry-after')).toBe('1')
      expect(await down.json()).toEqual({
        detail: 'The database is unavailable, try again shortly',
      })
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(await status(`${a.url}/readyz`)).toBe(503)
      expect(await status(`${a.url}/healthz`)).toBe(200)

      await server.start()
      let recovered = 0
      for (let tries = 0; tries < 60 && recovered !== 200; tries++) {
        recovered = await status(`${a.url}/users/me/`, bearer(access_token))
        if (recovered !== 200) await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(recovered).toBe(200)
      expect(await status(`${a.url}/readyz`)).toBe(200)
    },
  )
})
