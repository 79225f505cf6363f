// The HTTP contract on PostgreSQL: the same app, its store on a schema of its own.
import { describe, expect, it } from 'vitest'
import { build, captureLogs, tokenRequest, type TestApp } from '../helper.js'
import { freshSchema, relay, skipPostgres } from '../support/postgres.js'
import { TUTORIAL_HASH } from '../support/tutorial-db.js'

interface Tokens {
  access_token: string
  refresh_token: string
}

const me = (t: TestApp, accessToken: string) =>
  t.app.inject({
    method: 'GET',
    url: '/users/me/',
    headers: { authorization: `Bearer ${accessToken}` },
  })
const refresh = (t: TestApp, refreshToken: string) =>
  t.app.inject(tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }))

describe.skipIf(skipPostgres)('the HTTP API on PostgreSQL', () => {
  it('logs in, answers /users/me/ and rotates refresh tokens with reuse detection', async () => {
    const t = await build({
      databaseUrl: (await freshSchema()).url,
      env: { REFRESH_REUSE_GRACE_SECONDS: '0' },
    })
    await t.addUser({ username: 'alice', password: 'alice-password', email: 'alice@example.com' })
    const login = await t.app.inject(
      tokenRequest({ username: 'alice', password: 'alice-password' }),
    )
    expect(login.statusCode).toBe(200)
    const tokens = login.json<Tokens>()
    const profile = await me(t, tokens.access_token)
    expect(profile.json()).toEqual({
      username: 'alice',
      email: 'alice@example.com',
      full_name: null,
      disabled: false,
      email_verified: false,
    })

    const rotated = await refresh(t, tokens.refresh_token)
    expect(rotated.statusCode).toBe(200)
    const next = rotated.json<Tokens>()
    expect((await me(t, next.access_token)).statusCode).toBe(200)
    // The spent token again: reuse, so the whole session ends.
    expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
    expect((await refresh(t, next.refresh_token)).statusCode).toBe(400)
    expect((await me(t, next.access_token)).statusCode).toBe(401)
  })

  it('gives exactly one of concurrent refreshes with one token a new token (no grace)', async () => {
    const t = await build({
      databaseUrl: (await freshSchema()).url,
      env: { REFRESH_REUSE_GRACE_SECONDS: '0' },
    })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const tokens = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
    ).json<Tokens>()
    const statuses = (
      await Promise.all(Array.from({ length: 10 }, () => refresh(t, tokens.refresh_token)))
    ).map((response) => response.statusCode)
    expect(statuses.filter((status) => status === 200)).toHaveLength(1)
    expect(statuses.filter((status) => status === 400)).toHaveLength(9)
  })

  it('upgrades a tutorial bcrypt hash on login', async () => {
    const t = await build({ databaseUrl: (await freshSchema()).url })
    await t.store.createUser({ username: 'johndoe', hashedPassword: TUTORIAL_HASH })
    expect(
      (await t.app.inject(tokenRequest({ username: 'johndoe', password: 'secret' }))).statusCode,
    ).toBe(200)
    expect((await t.store.findUserByUsername('johndoe'))?.hashedPassword).toMatch(/^\$argon2id\$/)
  })

  it('throttles failed logins with counters in the database', async () => {
    const t = await build({ databaseUrl: (await freshSchema()).url })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const failures = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.app.inject(tokenRequest({ username: 'alice', password: 'wrong' })),
      ),
    )
    expect(failures.map((response) => response.statusCode)).toEqual([401, 401, 401, 401, 401])
    const refused = await t.app.inject(
      tokenRequest({ username: 'alice', password: 'alice-password' }),
    )
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('60')
  })

  it('answers 503 with Retry-After while the database is unreachable, without internals', async () => {
    const { schema } = await freshSchema()
    const link = await relay()
    const logs = captureLogs()
    const t = await build({ databaseUrl: link.url(schema), logs: logs.stream })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const tokens = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
    ).json<Tokens>()
    link.cut()
    for (const response of [
      await me(t, tokens.access_token),
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' })),
    ]) {
      expect(response.statusCode).toBe(503)
      expect(response.headers['retry-after']).toBe('1')
      expect(response.json()).toEqual({ detail: 'The database is unavailable, try again shortly' })
    }
    expect(logs.text()).toContain('database unavailable')
  })
})
