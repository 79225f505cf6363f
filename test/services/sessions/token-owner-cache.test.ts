// The token-owner cache: hot sessions cost no query, and every instance (PostgreSQL) or process
// (SQLite: the CLI, another worker) sharing the database refuses a token at once when its session
// ends or its user changes, feed up or down.
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import pg from 'pg'
import { describe, expect, it, vi } from 'vitest'
import { createTokenOwnerCache } from '../../../src/services/sessions/token-owner-cache.js'
import { parseDatabaseUrl } from '../../../src/store/open.js'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../../helper.js'
import { freshSchema, skipPostgres } from '../../support/postgres.js'

const PASSWORD = 'correct horse battery'

const me = (t: TestApp, token: string) =>
  t.app.inject({ method: 'GET', url: '/users/me/', headers: { authorization: `Bearer ${token}` } })

const sessionOf = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid

/** Milliseconds until `t` refuses `token`, asking as fast as the event loop allows. */
async function untilRefused(t: TestApp, token: string, since: number): Promise<number> {
  for (;;) {
    if ((await me(t, token)).statusCode !== 200) return performance.now() - since
    if (performance.now() - since > 5_000) throw new Error('still accepted after 5 s')
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('token-owner cache (SQLite)', () => {
  it('answers a hot session without reading the file, and counts another process’s writes from its next request', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', scopes: ['me'] })
    const token = await t.login('alice', PASSWORD)
    expect((await me(t, token)).statusCode).toBe(200)
    const { misses } = t.services.tokenOwners!.stats
    for (let i = 0; i < 50; i++) expect((await me(t, token)).statusCode).toBe(200)
    expect(t.services.tokenOwners!.stats).toMatchObject({ misses, trusted: true })

    // Another process: its own connection to the file, writing as the FastAPI app or sqlite3 would.
    const { filename } = parseDatabaseUrl(t.config.databaseUrl) as { filename: string }
    const other = new Database(filename)
    try {
      other.prepare("UPDATE users SET disabled = 1 WHERE username = 'alice'").run()
      await sleep(2) // the file is asked at most once a millisecond
      expect((await me(t, token)).statusCode).toBe(400)
      other.prepare("UPDATE users SET disabled = 0 WHERE username = 'alice'").run()
      await sleep(2)
      expect((await me(t, token)).statusCode).toBe(200)
      other.prepare('UPDATE gatehouse_sessions SET revoked_at = ?').run(Date.now())
      await sleep(2)
      expect((await me(t, token)).statusCode).toBe(401)
    } finally {
      other.close()
    }
  })
})

describe('token-owner cache and clients (SQLite)', () => {
  it('bounds a hot session by its client’s scopes as they are after the client row changes', async () => {
    const t = await build()
    await t.addUser({ username: 'alice' })
    const { client } = await t.services.clients.add({ name: 'web' }, TEST_ACTOR)
    const login = await t.app.inject(
      tokenRequest({ username: 'alice', password: PASSWORD, client_id: client.client_id }),
    )
    const token = login.json<{ access_token: string }>().access_token
    const items = () =>
      t.app.inject({ url: '/users/me/items/', headers: { authorization: `Bearer ${token}` } })
    expect((await items()).statusCode).toBe(200)
    expect((await items()).statusCode).toBe(200)
    // Another process narrows the client (as an operator's SQL would): the feed empties the cache.
    const { filename } = parseDatabaseUrl(t.config.databaseUrl) as { filename: string }
    const other = new Database(filename)
    try {
      other.prepare("UPDATE gatehouse_clients SET scopes = 'me'").run()
      await sleep(2) // the file is asked at most once a millisecond
      expect((await items()).statusCode).toBe(403)
      expect((await me(t, token)).statusCode).toBe(200)
    } finally {
      other.close()
    }
  })
})

describe.skipIf(skipPostgres)('token-owner cache (PostgreSQL)', () => {
  it('answers a hot session from memory: no database query in steady state', async () => {
    const { url } = await freshSchema()
    const t = await build({ databaseUrl: url })
    await t.addUser({ username: 'alice', scopes: ['me'] })
    const token = await t.login('alice', PASSWORD)
    expect((await me(t, token)).statusCode).toBe(200)

    const queries = vi.spyOn(pg.Pool.prototype, 'query')
    try {
      for (let i = 0; i < 100; i++) expect((await me(t, token)).statusCode).toBe(200)
      expect(queries).not.toHaveBeenCalled()
    } finally {
      queries.mockRestore()
    }
    expect(t.services.tokenOwners?.stats).toMatchObject({ hits: 100, misses: 1, trusted: true })
  })

  it('refuses a logout or a disable made on one instance on the other within 100 ms (p99)', async () => {
    const { url } = await freshSchema()
    const [a, b] = [await build({ databaseUrl: url }), await build({ databaseUrl: url })]
    await a.addUser({ username: 'alice', scopes: ['me'] })
    const delays: number[] = []
    for (let round = 0; round < 40; round++) {
      const token = await a.login('alice', PASSWORD)
      expect((await me(b, token)).statusCode).toBe(200)
      expect((await me(b, token)).statusCode).toBe(200) // now from b's memory
      const started = performance.now()
      if (round % 2 === 0) {
        await a.services.store.revokeSession(sessionOf(token), Date.now())
      } else {
        await a.services.store.setDisabled('alice', true)
      }
      // The instance that wrote refuses on its very next request.
      expect((await me(a, token)).statusCode).not.toBe(200)
      delays.push(await untilRefused(b, token, started))
      if (round % 2 === 1) await a.services.store.setDisabled('alice', false)
    }
    delays.sort((x, y) => x - y)
    const p50 = delays[Math.floor(delays.length * 0.5)]!
    const p99 = delays[Math.ceil(delays.length * 0.99) - 1]!
    console.log(
      `refused on the other instance after a logout or disable: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${delays.length} rounds)`,
    )
    expect(p99).toBeLessThanOrEqual(100)
  })

  it('reads the database while the feed is down, and trusts memory again once it is back', async () => {
    const { url, schema, admin } = await freshSchema()
    const t = await build({ databaseUrl: url })
    await t.addUser({ username: 'alice', scopes: ['me'] })
    const token = await t.login('alice', PASSWORD)
    expect((await me(t, token)).statusCode).toBe(200)
    expect(t.services.tokenOwners?.stats.trusted).toBe(true)

    const terminated = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [`gatehouse-changes:${schema}`],
    )
    expect(terminated.rowCount).toBe(1)
    // While the feed is down, a change it cannot carry is still seen: memory is not used.
    await expect.poll(() => t.services.tokenOwners?.stats.trusted).toBe(false)
    const misses = t.services.tokenOwners!.stats.misses
    await admin.query(`UPDATE ${schema}.users SET disabled = true WHERE username = 'alice'`)
    expect((await me(t, token)).statusCode).toBe(400)
    await admin.query(`UPDATE ${schema}.users SET disabled = false WHERE username = 'alice'`)
    expect((await me(t, token)).statusCode).toBe(200)
    expect(t.services.tokenOwners!.stats.misses).toBeGreaterThan(misses)
    expect(t.services.tokenOwners?.stats.trusted).toBe(false) // all the above while the feed was down

    // Reconnected and caught up: memory again, and the feed carries the next change.
    await expect.poll(() => t.services.tokenOwners?.stats.trusted, { timeout: 5_000 }).toBe(true)
    expect((await me(t, token)).statusCode).toBe(200)
    const hits = t.services.tokenOwners!.stats.hits
    expect((await me(t, token)).statusCode).toBe(200)
    expect(t.services.tokenOwners!.stats.hits).toBe(hits + 1)
    await admin.query(`UPDATE ${schema}.users SET scopes = 'items' WHERE username = 'alice'`)
    await expect.poll(async () => (await me(t, token)).statusCode).not.toBe(200)
  })
})

describe('token-owner cache', () => {
  it('keeps at most its size, dropping the least recently used session first', async () => {
    const reads: string[] = []
    const cache = createTokenOwnerCache({
      size: 2,
      log: { warn: () => undefined, info: () => undefined },
      store: {
        async findTokenOwner(username, sessionId) {
          reads.push(sessionId)
          return {
            user: {
              id: 1,
              username,
              email: null,
              fullName: null,
              disabled: false,
              scopes: null,
              emailVerified: null,
            },
            session: {
              revokedAt: null,
              expiresAt: Date.now() + 60_000,
              scope: ['me'],
              clientId: null,
              clientScopes: null,
            },
          }
        },
        async subscribeChanges() {
          return {
            live: true,
            cursor: 0,
            delivered: () => ({ cursor: 0, above: new Set<number>() }),
            catchUp: async () => undefined,
            pending: () => false,
            close: async () => undefined,
          }
        },
      },
    })
    for (const sid of ['a', 'b', 'a', 'c', 'a', 'b']) await cache.findTokenOwner('alice', sid)
    // a, b read; a from memory; c read (b goes); a from memory; b read again.
    expect(reads).toEqual(['a', 'b', 'c', 'b'])
    expect(cache.stats).toMatchObject({ size: 2, hits: 2, misses: 4 })
    // A token naming another user never gets the cached owner.
    await cache.findTokenOwner('mallory', 'a')
    expect(reads.at(-1)).toBe('a')
    await cache.close()
  })
})
