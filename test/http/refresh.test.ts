// Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): rotation, reuse detection, lifetimes.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { build, tokenRequest, type TestApp } from '../helper.js'

interface Tokens {
  access_token: string
  refresh_token: string
  scope?: string
}

async function loggedIn(env: Record<string, string> = {}): Promise<{ t: TestApp; tokens: Tokens }> {
  const t = await build({ env })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  const response = await t.app.inject(
    tokenRequest({ username: 'alice', password: 'alice-password' }),
  )
  return { t, tokens: response.json<Tokens>() }
}

const refresh = (t: TestApp, refreshToken: string, extra: Record<string, string> = {}) =>
  t.app.inject(tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }))

const me = (t: TestApp, accessToken: string) =>
  t.app.inject({
    method: 'GET',
    url: '/users/me/',
    headers: { authorization: `Bearer ${accessToken}` },
  })

afterEach(() => {
  vi.useRealTimers()
})

describe('refresh tokens', () => {
  it('are opaque 256-bit values, stored only as a hash', async () => {
    const { t, tokens } = await loggedIn()
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const db = new Database(join(t.dir, 'users.db'), { readonly: true })
    const stored = db.prepare('SELECT token_hash FROM gatehouse_refresh_tokens').pluck().all()
    db.close()
    expect(stored).toEqual([createHash('sha256').update(tokens.refresh_token).digest('base64url')])
    expect(readFileSync(join(t.dir, 'users.db')).includes(tokens.refresh_token)).toBe(false)
  })

  it('exchange for a new access token and a new refresh token, spending the old one', async () => {
    const { t, tokens } = await loggedIn()
    const response = await refresh(t, tokens.refresh_token)
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('no-store')
    const next = response.json<Tokens>()
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    expect(next.access_token).not.toBe(tokens.access_token)
    expect((await me(t, next.access_token)).statusCode).toBe(200)
    expect((await refresh(t, next.refresh_token)).statusCode).toBe(200)
  })

  it('revoke the whole family when a rotated token is presented again (no grace)', async () => {
    const { t, tokens } = await loggedIn({ REFRESH_REUSE_GRACE_SECONDS: '0' })
    const next = (await refresh(t, tokens.refresh_token)).json<Tokens>()
    const reused = await refresh(t, tokens.refresh_token)
    expect(reused.statusCode).toBe(400)
    expect(reused.json()).toMatchObject({ error: 'invalid_grant' })
    // Every token descended from that login is dead: the newest refresh token and the access tokens.
    expect((await refresh(t, next.refresh_token)).statusCode).toBe(400)
    expect((await me(t, next.access_token)).statusCode).toBe(401)
    expect((await me(t, tokens.access_token)).statusCode).toBe(401)
  })

  it('leave other sessions of the user alone on reuse', async () => {
    const { t, tokens } = await loggedIn()
    const other = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
    ).json<Tokens>()
    await refresh(t, tokens.refresh_token)
    await refresh(t, tokens.refresh_token)
    expect((await me(t, other.access_token)).statusCode).toBe(200)
    expect((await refresh(t, other.refresh_token)).statusCode).toBe(200)
  })

  it('rotate atomically: of concurrent refreshes with one token exactly one succeeds (no grace)', async () => {
    const { t, tokens } = await loggedIn({ REFRESH_REUSE_GRACE_SECONDS: '0' })
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => refresh(t, tokens.refresh_token)),
    )
    const statuses = responses.map((response) => response.statusCode)
    expect(statuses.filter((status) => status === 200)).toHaveLength(1)
    expect(statuses.filter((status) => status === 400)).toHaveLength(9)
  })

  it('may narrow the scope, never widen it', async () => {
    const { t, tokens } = await loggedIn()
    const narrowed = await refresh(t, tokens.refresh_token, { scope: 'items' })
    expect(narrowed.statusCode).toBe(200)
    const body = narrowed.json<Tokens>()
    expect(body.scope).toBeUndefined()
    expect((await me(t, body.access_token)).statusCode).toBe(403)
    // The refresh token keeps the session's original scope.
    const back = await refresh(t, body.refresh_token, { scope: 'me items' })
    expect(back.statusCode).toBe(200)

    const { t: t2, tokens: itemsOnly } = await (async () => {
      const app = await build()
      await app.addUser({ username: 'bob', password: 'bob-password' })
      const response = await app.app.inject(
        tokenRequest({ username: 'bob', password: 'bob-password', scope: 'items' }),
      )
      return { t: app, tokens: response.json<Tokens>() }
    })()
    const widened = await refresh(t2, itemsOnly.refresh_token, { scope: 'me' })
    expect(widened.statusCode).toBe(400)
    expect(widened.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it.each([
    ['an unknown token', 'x'.repeat(43)],
    ['an empty token', ''],
  ])('refuse %s with invalid_grant or invalid_request', async (_name, value) => {
    const { t } = await loggedIn()
    const response = await refresh(t, value)
    expect(response.statusCode).toBe(400)
    expect(['invalid_grant', 'invalid_request']).toContain(response.json<{ error: string }>().error)
  })

  it('stop working after the idle timeout', async () => {
    const { t, tokens } = await loggedIn({
      REFRESH_TOKEN_IDLE_DAYS: '2',
      REFRESH_TOKEN_EXPIRE_DAYS: '30',
    })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 1.5 * 86_400_000)
    const next = (await refresh(t, tokens.refresh_token)).json<Tokens>()
    vi.setSystemTime(Date.now() + 2.5 * 86_400_000)
    const response = await refresh(t, next.refresh_token)
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('stop working after the absolute lifetime, however often they are used', async () => {
    const { t, tokens } = await loggedIn({
      REFRESH_TOKEN_IDLE_DAYS: '2',
      REFRESH_TOKEN_EXPIRE_DAYS: '3',
    })
    vi.useFakeTimers({ toFake: ['Date'] })
    let current = tokens.refresh_token
    for (let day = 1; day <= 2; day++) {
      vi.setSystemTime(Date.now() + 1.4 * 86_400_000)
      const response = await refresh(t, current)
      expect(response.statusCode).toBe(200)
      current = response.json<Tokens>().refresh_token
    }
    vi.setSystemTime(Date.now() + 0.5 * 86_400_000)
    expect((await refresh(t, current)).statusCode).toBe(400)
  })

  it('cannot be used by a disabled or removed user', async () => {
    const { t, tokens } = await loggedIn()
    await t.store.setDisabled('alice', true)
    expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
    await t.store.setDisabled('alice', false)
    expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(200)

    const { t: t2, tokens: other } = await loggedIn()
    await t2.store.removeUser('alice')
    expect((await refresh(t2, other.refresh_token)).statusCode).toBe(400)
  })
})
