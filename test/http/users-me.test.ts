import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { build, TEST_SECRET, type TestApp } from '../helper.js'

const INVALID = { detail: 'Could not validate credentials' }

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function hs256(header: object, payload: object, secret = TEST_SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

const now = () => Math.floor(Date.now() / 1000)

async function withAlice(): Promise<TestApp> {
  const t = await build()
  await t.addUser({ username: 'alice', password: 'alice-password', email: 'alice@example.com', fullName: 'Alice Liddell' })
  return t
}

function me(t: TestApp, authorization?: string, url = '/users/me/') {
  return t.app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } })
}

afterEach(() => {
  vi.useRealTimers()
})

describe('GET /users/me/', () => {
  it('answers the public user, with and without the trailing slash', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    for (const url of ['/users/me/', '/users/me']) {
      const response = await me(t, `Bearer ${token}`, url)
      expect(response.statusCode).toBe(200)
      expect(response.json()).toEqual({ username: 'alice', email: 'alice@example.com', full_name: 'Alice Liddell', disabled: false })
    }
  })

  it('never answers the password hash', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    const record = await t.store.findUserByUsername('alice')
    expect(record?.hashedPassword).toMatch(/^\$argon2id\$/)
    const response = await me(t, `Bearer ${token}`)
    expect(response.body).not.toContain('argon2')
    expect(response.body).not.toContain('hashed_password')
  })

  it('accepts the scheme name in any case', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    expect((await me(t, `bearer ${token}`)).statusCode).toBe(200)
    expect((await me(t, `BEARER ${token}`)).statusCode).toBe(200)
  })

  it.each([
    ['no header', undefined],
    ['another scheme', 'Basic YWxpY2U6cGFzc3dvcmQ='],
    ['an empty header', ''],
  ])('answers 401 Not authenticated for %s', async (_name, header) => {
    const t = await withAlice()
    const response = await me(t, header)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer')
    expect(response.json()).toEqual({ detail: 'Not authenticated' })
  })

  const forged: Array<[string, (token: string) => string]> = [
    ['a bearer header with no token', () => ''],
    ['a malformed token', () => 'not-a-jwt'],
    ['a token with extra segments', (token) => `${token}.extra`],
    ['a truncated signature', (token) => token.slice(0, -5)],
    ['a stripped signature', (token) => token.split('.').slice(0, 2).join('.') + '.'],
    ['a tampered payload', (token) => {
      const [header, , signature] = token.split('.')
      return `${header}.${b64({ sub: 'admin', exp: now() + 600 })}.${signature}`
    }],
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now() + 600 })}.`],
    ['alg None', () => `${b64({ alg: 'None', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now() + 600 })}.`],
    ['the wrong key', () => hs256({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: now() + 600 }, 'another-secret-key-of-enough-length!!')],
    ['another HMAC algorithm', () => {
      const input = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now() + 600 })}`
      return `${input}.${createHmac('sha512', TEST_SECRET).update(input).digest('base64url')}`
    }],
    ['no sub', () => hs256({ alg: 'HS256', typ: 'JWT' }, { exp: now() + 600 })],
    ['a non-string sub', () => hs256({ alg: 'HS256', typ: 'JWT' }, { sub: 42, exp: now() + 600 })],
    ['no exp', () => hs256({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice' })],
    ['a string exp', () => hs256({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: String(now() + 600) })],
    ['a not-yet-valid nbf', () => hs256({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: now() + 600, nbf: now() + 300 })],
    ['an unknown user', () => hs256({ alg: 'HS256', typ: 'JWT' }, { sub: 'ghost', exp: now() + 600 })],
    ['a huge token', (token) => token + 'A'.repeat(20_000)],
    ['a JSON array payload', () => hs256({ alg: 'HS256', typ: 'JWT' }, [1, 2])],
  ]
  it.each(forged)('answers 401 invalid_token for %s', async (_name, makeToken) => {
    const t = await withAlice()
    const token = makeToken(await t.login('alice', 'alice-password'))
    const response = await me(t, `Bearer ${token}`)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    expect(response.json()).toEqual(INVALID)
  })

  it('answers 401 Token has expired once the token is past exp and the leeway', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 29 * 60 * 1000)
    expect((await me(t, `Bearer ${token}`)).statusCode).toBe(200)
    vi.setSystemTime(Date.now() + 2 * 60 * 1000)
    const response = await me(t, `Bearer ${token}`)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    expect(response.json()).toEqual({ detail: 'Token has expired' })
  })

  it('answers 400 Inactive user for a token of a user disabled after it was issued', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    await t.store.setDisabled('alice', true)
    const response = await me(t, `Bearer ${token}`)
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({ detail: 'Inactive user' })
  })

  it('answers 401 for a token of a user removed after it was issued', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    await t.store.removeUser('alice')
    const response = await me(t, `Bearer ${token}`)
    expect(response.statusCode).toBe(401)
    expect(response.json()).toEqual(INVALID)
  })

  it('reads changes to the user on every request', async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    await t.store.setDisabled('alice', true)
    expect((await me(t, `Bearer ${token}`)).statusCode).toBe(400)
    await t.store.setDisabled('alice', false)
    expect((await me(t, `Bearer ${token}`)).statusCode).toBe(200)
  })
})

describe('GET /users/me/items/', () => {
  it("answers the current user's items", async () => {
    const t = await withAlice()
    const token = await t.login('alice', 'alice-password')
    const response = await me(t, `Bearer ${token}`, '/users/me/items/')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([{ item_id: 'Foo', owner: 'alice' }])
  })

  it('is protected like /users/me/', async () => {
    const t = await withAlice()
    expect((await me(t, undefined, '/users/me/items/')).statusCode).toBe(401)
    expect((await me(t, 'Bearer nope', '/users/me/items/')).statusCode).toBe(401)
  })
})

describe('unknown routes', () => {
  it('answer 404 with a JSON detail', async () => {
    const t = await build()
    const response = await t.app.inject({ method: 'GET', url: '/nope' })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ detail: 'Not Found' })
  })
})
