// Registration, the admin API and the audit log.
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { build, tokenRequest, type TestApp } from '../helper.js'

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function withAdmin(env: Record<string, string> = {}): Promise<{ t: TestApp; admin: string }> {
  const t = await build({ env })
  await t.addUser({
    username: 'root',
    password: 'root-passphrase',
    scopes: ['me', 'items', 'admin'],
  })
  await t.addUser({ username: 'alice', password: 'alice-password', email: 'alice@example.com' })
  return { t, admin: await t.login('root', 'root-passphrase') }
}

describe('POST /users (registration)', () => {
  const register = (t: TestApp, body: object) =>
    t.app.inject({ method: 'POST', url: '/users', payload: body })

  it('is closed by default', async () => {
    const t = await build()
    const response = await register(t, { username: 'bob', password: 'bob-passphrase' })
    expect(response.statusCode).toBe(403)
    expect(response.json()).toEqual({ detail: 'Registration is closed' })
    expect(await t.store.findUserByUsername('bob')).toBeUndefined()
  })

  it('creates an account with REGISTRATION=open, answering 201 with the public user', async () => {
    const t = await build({ env: { REGISTRATION: 'open' } })
    const response = await register(t, {
      username: 'bob',
      password: 'bob-passphrase',
      email: 'bob@example.com',
      full_name: 'Bob',
    })
    expect(response.statusCode).toBe(201)
    expect(response.json()).toEqual({
      username: 'bob',
      email: 'bob@example.com',
      full_name: 'Bob',
      disabled: false,
      email_verified: false,
    })
    expect(
      (await t.app.inject(tokenRequest({ username: 'bob', password: 'bob-passphrase' })))
        .statusCode,
    ).toBe(200)
  })

  it('refuses look-alike and duplicate accounts with one 409 that does not say which field is taken', async () => {
    const t = await build({ env: { REGISTRATION: 'open' } })
    await register(t, { username: 'Bob', password: 'bob-passphrase', email: 'bob@example.com' })
    for (const body of [
      { username: 'bob', password: 'another-passphrase' },
      { username: 'ＢＯＢ', password: 'another-passphrase' },
      { username: 'carol', password: 'another-passphrase', email: 'bob@example.com' },
    ]) {
      const response = await register(t, body)
      expect(response.statusCode).toBe(409)
      expect(response.json()).toEqual({ detail: 'This username or email is not available' })
    }
  })

  it('ignores fields it does not know, so nobody can grant themselves scopes', async () => {
    const t = await build({ env: { REGISTRATION: 'open' } })
    const response = await register(t, {
      username: 'eve',
      password: 'eve-passphrase',
      scopes: ['admin'],
      disabled: false,
      admin: true,
    })
    expect(response.statusCode).toBe(201)
    expect((await t.store.findUserByUsername('eve'))?.scopes).toBeNull()
  })

  it('stores the username NFKC-normalized', async () => {
    const t = await build({ env: { REGISTRATION: 'open' } })
    const response = await register(t, { username: 'ｄａｎ', password: 'dan-passphrase' })
    expect(response.json()).toMatchObject({ username: 'dan' })
    expect(
      (await t.app.inject(tokenRequest({ username: 'dan', password: 'dan-passphrase' })))
        .statusCode,
    ).toBe(200)
  })

  it.each([
    ['a short password', { username: 'bob', password: 'short' }, /at least 8/],
    ['a common password', { username: 'bob', password: 'iloveyou' }, /too common/],
    [
      'the username as password',
      { username: 'bobby-tables', password: 'Bobby-Tables' },
      /username/,
    ],
    [
      'a password over 1024 characters',
      { username: 'bob', password: 'x'.repeat(1025) },
      /at most 1024/,
    ],
    ['a bad email', { username: 'bob', password: 'bob-passphrase', email: 'nope' }, /email/],
  ])('refuses %s with 400 and a message', async (_name, body, message) => {
    const t = await build({ env: { REGISTRATION: 'open' } })
    const response = await register(t, body)
    expect(response.statusCode).toBe(400)
    expect(response.json<{ detail: string }>().detail).toMatch(message)
  })
})

describe('the admin API', () => {
  it('needs the admin scope: 401 without a token, 403 insufficient_scope without the scope', async () => {
    const { t } = await withAdmin()
    expect((await t.app.inject({ method: 'GET', url: '/admin/users' })).statusCode).toBe(401)
    const alice = await t.login('alice', 'alice-password')
    const denied = await t.app.inject({
      method: 'GET',
      url: '/admin/users',
      headers: bearer(alice),
    })
    expect(denied.statusCode).toBe(403)
    expect(denied.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="admin"',
    )
  })

  it('lists and searches users a page at a time, never with hashes', async () => {
    const { t, admin } = await withAdmin()
    const all = await t.app.inject({
      method: 'GET',
      url: '/admin/users?limit=1',
      headers: bearer(admin),
    })
    expect(all.json()).toMatchObject({
      total: 2,
      limit: 1,
      offset: 0,
      users: [{ username: 'root', scopes: ['me', 'items', 'admin'] }],
    })
    const found = await t.app.inject({
      method: 'GET',
      url: '/admin/users?q=ALICE@',
      headers: bearer(admin),
    })
    expect(found.json()).toMatchObject({
      total: 1,
      users: [{ username: 'alice', email: 'alice@example.com', scopes: ['me', 'items'] }],
    })
    expect(found.body).not.toContain('argon2')
    expect(
      (await t.app.inject({ method: 'GET', url: '/admin/users?limit=0', headers: bearer(admin) }))
        .statusCode,
    ).toBe(400)
  })

  it('creates, reads, changes and deletes users', async () => {
    const { t, admin } = await withAdmin()
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/users',
      headers: bearer(admin),
      payload: {
        username: 'carol',
        password: 'carol-passphrase',
        email: 'carol@example.com',
        scopes: ['items'],
      },
    })
    expect(created.statusCode).toBe(201)
    expect(created.json()).toEqual({
      username: 'carol',
      email: 'carol@example.com',
      full_name: null,
      disabled: false,
      email_verified: false,
      scopes: ['items'],
    })
    const duplicate = await t.app.inject({
      method: 'POST',
      url: '/admin/users',
      headers: bearer(admin),
      payload: { username: 'carol', password: 'carol-passphrase' },
    })
    expect(duplicate.statusCode).toBe(409)

    const patched = await t.app.inject({
      method: 'PATCH',
      url: '/admin/users/carol',
      headers: bearer(admin),
      payload: { full_name: 'Carol C', scopes: null },
    })
    expect(patched.json()).toMatchObject({ full_name: 'Carol C', scopes: ['me', 'items'] })
    expect(
      (
        await t.app.inject({
          method: 'PATCH',
          url: '/admin/users/carol',
          headers: bearer(admin),
          payload: { scopes: ['root'] },
        })
      ).statusCode,
    ).toBe(400)
    expect(
      (
        await t.app.inject({
          method: 'PATCH',
          url: '/admin/users/carol',
          headers: bearer(admin),
          payload: {},
        })
      ).statusCode,
    ).toBe(400)
    expect(
      (
        await t.app.inject({ method: 'GET', url: '/admin/users/carol', headers: bearer(admin) })
      ).json(),
    ).toMatchObject({ full_name: 'Carol C' })

    expect(
      (await t.app.inject({ method: 'DELETE', url: '/admin/users/carol', headers: bearer(admin) }))
        .statusCode,
    ).toBe(204)
    expect(
      (await t.app.inject({ method: 'GET', url: '/admin/users/carol', headers: bearer(admin) }))
        .statusCode,
    ).toBe(404)
    expect(
      (await t.app.inject({ method: 'DELETE', url: '/admin/users/carol', headers: bearer(admin) }))
        .statusCode,
    ).toBe(404)
  })

  it('disabling a user, resetting a password or revoking sessions ends the user’s tokens', async () => {
    const { t, admin } = await withAdmin()
    const me = (token: string) =>
      t.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(token) })

    let alice = await t.login('alice', 'alice-password')
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/admin/users/alice/sessions/revoke-all',
          headers: bearer(admin),
        })
      ).statusCode,
    ).toBe(204)
    expect((await me(alice)).statusCode).toBe(401)

    alice = await t.login('alice', 'alice-password')
    const reset = await t.app.inject({
      method: 'POST',
      url: '/admin/users/alice/password',
      headers: bearer(admin),
      payload: { password: 'a-new-passphrase' },
    })
    expect(reset.statusCode).toBe(204)
    expect((await me(alice)).statusCode).toBe(401)
    const weak = await t.app.inject({
      method: 'POST',
      url: '/admin/users/alice/password',
      headers: bearer(admin),
      payload: { password: 'password' },
    })
    expect(weak.statusCode).toBe(400)

    alice = await t.login('alice', 'a-new-passphrase')
    await t.app.inject({
      method: 'PATCH',
      url: '/admin/users/alice',
      headers: bearer(admin),
      payload: { disabled: true },
    })
    expect((await me(alice)).statusCode).toBe(400)
    expect(
      (await t.app.inject(tokenRequest({ username: 'alice', password: 'a-new-passphrase' })))
        .statusCode,
    ).toBe(400)
  })
})

describe('the audit log', () => {
  it('records logins, failures, refreshes, reuse, logouts, password changes and admin actions, never a secret', async () => {
    const { t, admin } = await withAdmin()
    await t.app.inject({
      ...tokenRequest({ username: 'alice', password: 'wrong-password' }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'audit-test/1',
      },
    })
    const tokens = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
    ).json<{ access_token: string; refresh_token: string }>()
    const next = (
      await t.app.inject(
        tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      )
    ).json<{ access_token: string; refresh_token: string }>()
    // Its successor used, the first token coming back is reuse (not a retry within the grace).
    await t.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: next.refresh_token }),
    )
    await t.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    )
    const again = await t.login('alice', 'alice-password')
    await t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(again),
      payload: { current_password: 'alice-password', new_password: 'brand-new-passphrase' },
    })
    await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(again) })
    await t.app.inject({
      method: 'PATCH',
      url: '/admin/users/alice',
      headers: bearer(admin),
      payload: { full_name: 'Alice' },
    })

    const response = await t.app.inject({
      method: 'GET',
      url: '/admin/audit?limit=100',
      headers: bearer(admin),
    })
    expect(response.statusCode).toBe(200)
    const events = response.json<{
      events: Array<{
        id: number
        type: string
        outcome: string
        username: string
        user_agent: string | null
        at: string
        actor: string | null
      }>
    }>().events
    const seen = events.map((event) => `${event.type}:${event.outcome}:${event.username}`)
    // Who acted: the admin, the user themself, nobody signed in for a failed login.
    const actorOf = (type: string, outcome: string) =>
      events.find((event) => event.type === type && event.outcome === outcome)?.actor
    expect(actorOf('admin', 'update_user')).toBe('root')
    expect(actorOf('logout', 'success')).toBe('alice')
    expect(actorOf('login', 'bad_credentials')).toBeNull()
    expect(seen).toEqual(
      expect.arrayContaining([
        'login:bad_credentials:alice',
        'login:success:alice',
        'token_refresh:success:alice',
        'refresh_reuse:session_revoked:alice',
        'password_change:success:alice',
        'logout:success:alice',
        'admin:update_user:root',
      ]),
    )
    expect(events.map((event) => event.id)).toEqual(
      [...events.map((event) => event.id)].sort((a, b) => b - a),
    )
    expect(events.find((event) => event.outcome === 'bad_credentials')?.user_agent).toBe(
      'audit-test/1',
    )
    for (const secret of [
      'alice-password',
      'wrong-password',
      'brand-new-passphrase',
      tokens.refresh_token,
      tokens.access_token,
      next.access_token,
      '$argon2',
    ]) {
      expect(response.body).not.toContain(secret)
    }
    const older = await t.app.inject({
      method: 'GET',
      url: `/admin/audit?limit=2&before=${events[1]!.id}`,
      headers: bearer(admin),
    })
    expect(older.json<{ events: Array<{ id: number }> }>().events.map((event) => event.id)).toEqual(
      [events[2]!.id, events[3]!.id],
    )
  })
})

describe('the audit rows of self-service changes', () => {
  it('are one row and one summary per user and minute, not one per change', async () => {
    const { t } = await withAdmin()
    await t.addUser({ username: 'bob', password: 'bob-password' })
    const alice = bearer(await t.login('alice', 'alice-password'))
    const bob = bearer(await t.login('bob', 'bob-password'))
    const rename = (headers: Record<string, string>, fullName: string) =>
      t.app.inject({
        method: 'PATCH',
        url: '/users/me/',
        headers,
        payload: { full_name: fullName },
      })
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    for (let i = 0; i < 8; i++) expect((await rename(alice, `Alice ${i}`)).statusCode).toBe(200)
    for (let i = 0; i < 3; i++) expect((await rename(bob, `Bob ${i}`)).statusCode).toBe(200)
    // The minute closes with the next change after it.
    vi.setSystemTime(Date.now() + 61_000)
    expect((await rename(bob, 'Bob')).statusCode).toBe(200)

    const rows = (await t.store.listAudit({ limit: 100 }))
      .filter((row) => row.type === 'profile_change')
      .reverse()
      .map((row) => [row.username, row.outcome, row.detail?.replace(/ \(.*/, '') ?? null])
    expect(rows).toEqual([
      ['alice', 'success', null],
      ['bob', 'success', null],
      ['alice', 'success', '7 similar events suppressed'],
      ['bob', 'success', '2 similar events suppressed'],
      ['bob', 'success', null],
    ])
  })
})
