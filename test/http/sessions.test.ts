// Ending sessions: RFC 7009 revocation, logout, log out everywhere, session list, password change,
// and the accounts operations that must end sessions (disable, new password, removal).
import { describe, expect, it } from 'vitest'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'

interface Tokens {
  access_token: string
  refresh_token: string
}

async function withAlice(): Promise<TestApp> {
  const t = await build()
  await t.addUser({ username: 'alice', password: 'alice-password' })
  return t
}

async function login(t: TestApp, userAgent = 'test-agent/1.0'): Promise<Tokens> {
  const response = await t.app.inject({
    ...tokenRequest({ username: 'alice', password: 'alice-password' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
  })
  return response.json<Tokens>()
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const me = (t: TestApp, token: string) =>
  t.app.inject({ method: 'GET', url: '/users/me/', headers: bearer(token) })
const refresh = (t: TestApp, token: string) =>
  t.app.inject(tokenRequest({ grant_type: 'refresh_token', refresh_token: token }))
const revoke = (t: TestApp, fields: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: '/revoke',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  })

describe('POST /revoke (RFC 7009)', () => {
  it('revokes a refresh token and its whole session', async () => {
    const t = await withAlice()
    const tokens = await login(t)
    const response = await revoke(t, {
      token: tokens.refresh_token,
      token_type_hint: 'refresh_token',
    })
    expect(response.statusCode).toBe(200)
    expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
    expect((await me(t, tokens.access_token)).statusCode).toBe(401)
  })

  it('revokes the session of an access token', async () => {
    const t = await withAlice()
    const tokens = await login(t)
    expect((await revoke(t, { token: tokens.access_token })).statusCode).toBe(200)
    expect((await me(t, tokens.access_token)).statusCode).toBe(401)
    expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
  })

  it('answers 200 for unknown, invalid or already revoked tokens', async () => {
    const t = await withAlice()
    const tokens = await login(t)
    await revoke(t, { token: tokens.refresh_token })
    for (const token of [tokens.refresh_token, 'garbage', 'a.b.c', 'x'.repeat(43)]) {
      expect((await revoke(t, { token })).statusCode).toBe(200)
    }
  })

  it('answers invalid_request without a token', async () => {
    const t = await withAlice()
    const response = await revoke(t, {})
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ error: 'invalid_request' })
  })
})

describe('POST /logout', () => {
  it('ends this session at once, access token included, and leaves the others', async () => {
    const t = await withAlice()
    const first = await login(t)
    const second = await login(t)
    const response = await t.app.inject({
      method: 'POST',
      url: '/logout',
      headers: bearer(first.access_token),
    })
    expect(response.statusCode).toBe(204)
    expect((await me(t, first.access_token)).statusCode).toBe(401)
    expect((await refresh(t, first.refresh_token)).statusCode).toBe(400)
    expect((await me(t, second.access_token)).statusCode).toBe(200)
  })

  it('needs a bearer token', async () => {
    const t = await withAlice()
    expect((await t.app.inject({ method: 'POST', url: '/logout' })).statusCode).toBe(401)
  })
})

describe('the current user’s sessions', () => {
  it('lists active sessions with their client and marks the current one', async () => {
    const t = await withAlice()
    const first = await login(t, 'browser/1')
    await login(t, 'cli/2')
    const response = await t.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: bearer(first.access_token),
    })
    expect(response.statusCode).toBe(200)
    const sessions =
      response.json<
        Array<{ id: string; user_agent: string; ip: string; current: boolean; created_at: string }>
      >()
    expect(sessions.map((session) => session.user_agent)).toEqual(['browser/1', 'cli/2'])
    expect(sessions.map((session) => session.current)).toEqual([true, false])
    expect(sessions[0]!.ip).toBe('127.0.0.1')
    expect(Date.parse(sessions[0]!.created_at)).not.toBeNaN()
  })

  it('ends one session by id, and only the user’s own', async () => {
    const t = await withAlice()
    await t.addUser({ username: 'bob', password: 'bob-password' })
    const mine = await login(t)
    const other = await login(t)
    const sessions = (
      await t.app.inject({
        method: 'GET',
        url: '/users/me/sessions',
        headers: bearer(mine.access_token),
      })
    ).json<Array<{ id: string; current: boolean }>>()
    const otherId = sessions.find((session) => !session.current)!.id

    const bob = (
      await t.app.inject(tokenRequest({ username: 'bob', password: 'bob-password' }))
    ).json<Tokens>()
    const notHis = await t.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${otherId}`,
      headers: bearer(bob.access_token),
    })
    expect(notHis.statusCode).toBe(404)
    expect((await me(t, other.access_token)).statusCode).toBe(200)

    const ended = await t.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${otherId}`,
      headers: bearer(mine.access_token),
    })
    expect(ended.statusCode).toBe(204)
    expect((await me(t, other.access_token)).statusCode).toBe(401)
    expect((await me(t, mine.access_token)).statusCode).toBe(200)
  })

  it('logs out everywhere', async () => {
    const t = await withAlice()
    const sessions = [await login(t), await login(t), await login(t)]
    const response = await t.app.inject({
      method: 'POST',
      url: '/users/me/sessions/revoke-all',
      headers: bearer(sessions[0]!.access_token),
    })
    expect(response.statusCode).toBe(204)
    for (const tokens of sessions) {
      expect((await me(t, tokens.access_token)).statusCode).toBe(401)
      expect((await refresh(t, tokens.refresh_token)).statusCode).toBe(400)
    }
  })
})

describe('POST /users/me/password', () => {
  const change = (t: TestApp, token: string, body: object) =>
    t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: bearer(token),
      payload: body,
    })

  it('changes the password and ends every other session', async () => {
    const t = await withAlice()
    const current = await login(t)
    const other = await login(t)
    const response = await change(t, current.access_token, {
      current_password: 'alice-password',
      new_password: 'brand-new-password',
    })
    expect(response.statusCode).toBe(204)
    expect((await me(t, current.access_token)).statusCode).toBe(200)
    expect((await me(t, other.access_token)).statusCode).toBe(401)
    expect((await refresh(t, other.refresh_token)).statusCode).toBe(400)
    expect(
      (await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' })))
        .statusCode,
    ).toBe(401)
    expect(
      (await t.app.inject(tokenRequest({ username: 'alice', password: 'brand-new-password' })))
        .statusCode,
    ).toBe(200)
  })

  it('refuses a wrong current password and changes nothing', async () => {
    const t = await withAlice()
    const current = await login(t)
    const response = await change(t, current.access_token, {
      current_password: 'nope',
      new_password: 'brand-new-password',
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ detail: 'Incorrect password' })
    expect(
      (await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' })))
        .statusCode,
    ).toBe(200)
  })

  it('refuses a new password that breaks the policy, with a clear message', async () => {
    const t = await withAlice()
    const current = await login(t)
    for (const [new_password, message] of [
      ['short', /at least 8/],
      ['password123', /too common/],
      ['alice', /at least 8/],
    ] as const) {
      const response = await change(t, current.access_token, {
        current_password: 'alice-password',
        new_password,
      })
      expect(response.statusCode).toBe(400)
      expect(response.json<{ detail: string }>().detail).toMatch(message)
    }
    expect(
      (await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' })))
        .statusCode,
    ).toBe(200)
  })

  it('answers 400, never 500, for malformed bodies', async () => {
    const t = await withAlice()
    const current = await login(t)
    for (const body of [
      {},
      { current_password: 'alice-password' },
      { current_password: 'alice-password', new_password: '' },
    ]) {
      expect((await change(t, current.access_token, body)).statusCode).toBe(400)
    }
    const notJson = await t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: { ...bearer(current.access_token), 'content-type': 'application/json' },
      payload: '{oops',
    })
    expect(notJson.statusCode).toBe(400)
  })
})

describe('account changes end sessions', () => {
  it('a new password, a disable or a removal makes every earlier access token fail', async () => {
    const t = await withAlice()
    const { accounts } = t.services

    const beforePasswd = await login(t)
    await accounts.setPassword('alice', 'second-password', TEST_ACTOR)
    expect((await me(t, beforePasswd.access_token)).statusCode).toBe(401)

    const beforeDisable = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'second-password' }))
    ).json<Tokens>()
    await accounts.setDisabled('alice', true, TEST_ACTOR)
    expect((await me(t, beforeDisable.access_token)).statusCode).toBe(400)
    await accounts.setDisabled('alice', false, TEST_ACTOR)
    // Re-enabling does not bring old sessions back.
    expect((await me(t, beforeDisable.access_token)).statusCode).toBe(401)
    expect((await refresh(t, beforeDisable.refresh_token)).statusCode).toBe(400)

    const beforeRemoval = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'second-password' }))
    ).json<Tokens>()
    await accounts.remove('alice', TEST_ACTOR)
    await t.addUser({ username: 'alice', password: 'second-password' })
    // A new account with the same name does not inherit the old one's sessions.
    expect((await me(t, beforeRemoval.access_token)).statusCode).toBe(401)
  })
})
