// REFRESH_REUSE_GRACE_SECONDS: a refresh token presented again shortly after its rotation (a lost
// answer, a retry, a duplicated tab) answers the same successor instead of ending the session.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'

interface Tokens {
  access_token: string
  refresh_token: string
}

const refresh = (t: TestApp, refreshToken: string) =>
  t.app.inject(tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }))

const me = (t: TestApp, accessToken: string) =>
  t.app.inject({ url: '/users/me/', headers: { authorization: `Bearer ${accessToken}` } })

async function loggedIn(t: TestApp): Promise<Tokens> {
  await t.addUser({ username: 'alice', password: 'alice-password' })
  return (
    await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
  ).json<Tokens>()
}

afterEach(() => {
  vi.useRealTimers()
})

function graceCases(name: string, databaseUrl: () => Promise<string | undefined>) {
  describe(`the refresh reuse grace (${name})`, () => {
    it('answers a retry within the grace with the same successor, keeping the session', async () => {
      const url = await databaseUrl()
      const t = await build(url ? { databaseUrl: url } : {})
      const tokens = await loggedIn(t)
      const first = (await refresh(t, tokens.refresh_token)).json<Tokens>()
      const retry = await refresh(t, tokens.refresh_token)
      expect(retry.statusCode).toBe(200)
      const again = retry.json<Tokens>()
      expect(again.refresh_token).toBe(first.refresh_token)
      expect(again.access_token).not.toBe(first.access_token)
      expect((await me(t, again.access_token)).statusCode).toBe(200)
      expect((await me(t, first.access_token)).statusCode).toBe(200)
      // The successor is still the one live refresh token, and it rotates as usual.
      expect((await refresh(t, first.refresh_token)).statusCode).toBe(200)
      const events = await t.store.listAudit({ limit: 10 })
      expect(events.some((event) => event.type === 'refresh_reuse')).toBe(false)
      expect(events.filter((e) => e.type === 'token_refresh').map((e) => e.outcome)).toContain(
        'retry',
      )
    })

    it('gives every one of concurrent refreshes with one token the same successor', async () => {
      const url = await databaseUrl()
      const t = await build(url ? { databaseUrl: url } : {})
      const tokens = await loggedIn(t)
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => refresh(t, tokens.refresh_token)),
      )
      expect(answers.map((answer) => answer.statusCode)).toEqual(Array(10).fill(200))
      const successors = new Set(answers.map((answer) => answer.json<Tokens>().refresh_token))
      expect(successors.size).toBe(1)
      expect((await refresh(t, [...successors][0]!)).statusCode).toBe(200)
    })

    it('treats the old token as reuse once its successor has been used, even within the grace', async () => {
      const url = await databaseUrl()
      const t = await build(url ? { databaseUrl: url } : {})
      const tokens = await loggedIn(t)
      const second = (await refresh(t, tokens.refresh_token)).json<Tokens>()
      const third = (await refresh(t, second.refresh_token)).json<Tokens>()
      expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
      expect((await refresh(t, third.refresh_token)).statusCode).toBe(400)
      expect((await me(t, third.access_token)).statusCode).toBe(401)
    })

    it('ends the session when the token comes back after the grace', async () => {
      const url = await databaseUrl()
      const t = await build(url ? { databaseUrl: url, env: {} } : {})
      const tokens = await loggedIn(t)
      const first = (await refresh(t, tokens.refresh_token)).json<Tokens>()
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11_000 })
      const late = await refresh(t, tokens.refresh_token)
      expect(late.statusCode).toBe(400)
      expect(late.json()).toMatchObject({ error: 'invalid_grant' })
      expect((await refresh(t, first.refresh_token)).statusCode).toBe(400)
      const events = await t.store.listAudit({ limit: 10 })
      expect(events.some((event) => event.type === 'refresh_reuse')).toBe(true)
    })

    it('refuses a retry once the session has ended', async () => {
      const url = await databaseUrl()
      const t = await build(url ? { databaseUrl: url } : {})
      const tokens = await loggedIn(t)
      const first = (await refresh(t, tokens.refresh_token)).json<Tokens>()
      await t.services.sessions.revokeToken(first.refresh_token)
      expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
    })
  })
}

describe('the grace and the client a token was issued to', () => {
  const refreshAs = (t: TestApp, refreshToken: string, clientId?: string) =>
    t.app.inject(
      tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        ...(clientId ? { client_id: clientId } : {}),
      }),
    )

  async function twoClients() {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const spa = (await t.services.clients.add({ name: 'spa' }, TEST_ACTOR)).client.client_id
    const other = (await t.services.clients.add({ name: 'other' }, TEST_ACTOR)).client.client_id
    const login = (clientId?: string) =>
      t.app.inject(
        tokenRequest({
          username: 'alice',
          password: 'alice-password',
          ...(clientId ? { client_id: clientId } : {}),
        }),
      )
    return { t, spa, other, login }
  }

  const reuseRecorded = async (t: TestApp) =>
    (await t.store.listAudit({ limit: 20 })).some((event) => event.type === 'refresh_reuse')

  it('answers the successor to the client the token was issued to', async () => {
    const { t, spa, login } = await twoClients()
    const tokens = (await login(spa)).json<Tokens>()
    const first = (await refreshAs(t, tokens.refresh_token, spa)).json<Tokens>()
    const retry = await refreshAs(t, tokens.refresh_token, spa)
    expect(retry.statusCode).toBe(200)
    expect(retry.json<Tokens>().refresh_token).toBe(first.refresh_token)
  })

  it.each([
    ['another client', 'other'],
    ['an anonymous caller', undefined],
  ] as const)(
    "refuses %s the successor of a client's token, and ends the family",
    async (_, who) => {
      const { t, spa, other, login } = await twoClients()
      const tokens = (await login(spa)).json<Tokens>()
      const first = (await refreshAs(t, tokens.refresh_token, spa)).json<Tokens>()
      const stolen = await refreshAs(t, tokens.refresh_token, who && other)
      expect(stolen.statusCode).toBe(400)
      expect(stolen.json()).toMatchObject({ error: 'invalid_grant' })
      expect(stolen.body).not.toContain(first.refresh_token)
      // Treated as reuse: the successor the rightful client holds is dead too.
      expect((await refreshAs(t, first.refresh_token, spa)).statusCode).toBe(400)
      expect((await me(t, first.access_token)).statusCode).toBe(401)
      expect(await reuseRecorded(t)).toBe(true)
    },
  )

  it("refuses a registered client the successor of an anonymous login's token", async () => {
    const { t, spa, login } = await twoClients()
    const tokens = (await login()).json<Tokens>()
    const first = (await refreshAs(t, tokens.refresh_token)).json<Tokens>()
    const stolen = await refreshAs(t, tokens.refresh_token, spa)
    expect(stolen.statusCode).toBe(400)
    expect(stolen.body).not.toContain(first.refresh_token)
    expect((await refreshAs(t, first.refresh_token)).statusCode).toBe(400)
    expect(await reuseRecorded(t)).toBe(true)
  })
})

graceCases('SQLite', async () => undefined)
describe.skipIf(skipPostgres)('PostgreSQL', () => {
  graceCases('PostgreSQL', async () => (await freshSchema()).url)

  it('agrees across instances sharing the database: concurrent retries get one successor', async () => {
    const { url } = await freshSchema()
    const a = await build({ databaseUrl: url })
    const b = await build({ databaseUrl: url })
    const tokens = await loggedIn(a)
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => refresh(i % 2 ? a : b, tokens.refresh_token)),
    )
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array(10).fill(200))
    expect(new Set(answers.map((answer) => answer.json<Tokens>().refresh_token)).size).toBe(1)
  })
})

describe('the kept successor', () => {
  it('is stored sealed: the database file never holds a usable refresh token', async () => {
    const t = await build()
    const tokens = await loggedIn(t)
    const first = (await refresh(t, tokens.refresh_token)).json<Tokens>()
    await t.store.close().catch(() => undefined)
    const file = Buffer.concat(
      ['users.db', 'users.db-wal'].map((name) => {
        try {
          return readFileSync(join(t.dir, name))
        } catch {
          return Buffer.alloc(0)
        }
      }),
    )
    expect(file.includes(first.refresh_token)).toBe(false)
  })
})
