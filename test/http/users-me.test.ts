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
  await t.addUser({
    username: 'alice',
    password: 'alice-password',
    email: 'alice@example.com',
    fullName: 'Alice Liddell',
  })
  return t
}

function me(t: TestApp, authorization?: string, url = '/users/me/') {
  return t.app.inject({
    method: 'GET',
    url,
    headers: authorization === undefined ? {} : { authorization },
  })
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
      expect(response.json()).toEqual({
        username: 'alice',
        email: 'alice@example.com',
        full_name: 'Alice Liddell',
        disabled: false,
        email_verified: false,
      })
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

  /** The real token's header and claims, changed by `change`, signed again with the real key. */
  const resigned = (
    token: string,
    change: (header: Record<string, unknown>, claims: Record<string, unknown>) => void,
    secret = TEST_SECRET,
  ) => {
    const [header, claims] = token
      .split('.')
      .slice(0, 2)
      .map(
        (part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>,
      )
    change(header!, claims!)
    return hs256(header!, claims!, secret)
  }
  const forged: Array<[string, (token: string) => string]> = [
    ['a bearer header with no token', () => ''],
    ['a malformed token', () => 'not-a-jwt'],
    ['a token with extra segments', (token) => `${token}.extra`],
    ['a truncated signature', (token) => token.slice(0, -5)],
    ['a stripped signature', (token) => token.split('.').slice(0, 2).join('.') + '.'],
    [
      'a tampered payload',
      (token) => {
        const [header, payload, signature] = token.split('.')
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<
          string,
          unknown
        >
        return `${header}.${b64({ ...claims, sub: 'admin' })}.${signature}`
      },
    ],
    [
      'alg none',
      (token) => {
        const claims = JSON.parse(
          Buffer.from(token.split('.')[1]!, 'base64url').toString(),
        ) as object
        return `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`
      },
    ],
    ['alg None', (token) => `${b64({ alg: 'None', typ: 'at+jwt' })}.${token.split('.')[1]}.`],
    [
      'the wrong key',
      (token) => resigned(token, () => {}, 'another-secret-key-of-enough-length!!'),
    ],
    [
      'another HMAC algorithm',
      (token) => {
        const input = `${b64({ alg: 'HS512', typ: 'at+jwt' })}.${token.split('.')[1]}`
        return `${input}.${createHmac('sha512', TEST_SECRET).update(input).digest('base64url')}`
      },
    ],
    ['no sub', (token) => resigned(token, (_h, claims) => delete claims.sub)],
    ['a non-string sub', (token) => resigned(token, (_h, claims) => (claims.sub = 42))],
    ['no exp', (token) => resigned(token, (_h, claims) => delete claims.exp)],
    ['a string exp', (token) => resigned(token, (_h, claims) => (claims.exp = String(claims.exp)))],
    ['a not-yet-valid nbf', (token) => resigned(token, (_h, claims) => (claims.nbf = now() + 300))],
    ['an unknown user', (token) => resigned(token, (_h, claims) => (claims.sub = 'ghost'))],
    ['no session', (token) => resigned(token, (_h, claims) => delete claims.sid)],
    [
      'an unknown session',
      (token) => resigned(token, (_h, claims) => (claims.sid = 'no-such-session')),
    ],
    [
      'another issuer',
      (token) => resigned(token, (_h, claims) => (claims.iss = 'https://evil.example')),
    ],
    [
      'another audience',
      (token) => resigned(token, (_h, claims) => (claims.aud = 'https://other.example')),
    ],
    [
      'a JWT that is not an access token (typ JWT)',
      (token) => resigned(token, (header) => (header.typ = 'JWT')),
    ],
    ['a huge token', (token) => token + 'A'.repeat(20_000)],
    ['a JSON array payload', () => hs256({ alg: 'HS256', typ: 'at+jwt' }, [1, 2])],
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

  // Found by fuzzing: these never reached the error handler, and Fastify's own body had no detail.
  it.each([
    ['a bad percent-escape', '/users/me/sessions/%zz', 400, 'Malformed URL'],
    ['a truncated UTF-8 escape', '/users/%E2%82', 400, 'Malformed URL'],
    ['an overlong path parameter', `/users/me/sessions/${'x'.repeat(200)}`, 414, 'URI Too Long'],
  ])(
    'answer %s with a JSON detail that does not echo the URL',
    async (_name, url, status, detail) => {
      const t = await build()
      const response = await t.app.inject({ method: 'DELETE', url })
      expect(response.statusCode).toBe(status)
      expect(response.json()).toEqual({ detail })
    },
  )
})
