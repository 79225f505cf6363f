import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { build, tempDir, TEST_SECRET, tokenRequest } from '../helper.js'

const APP = 'https://app.example.com'
const OTHER_APP = 'http://localhost:5173'
const withCors = { env: { CORS_ORIGINS: `${APP}, ${OTHER_APP}` } }

function preflight(url: string, method: string, origin: string, headers = 'authorization') {
  return {
    method: 'OPTIONS' as const,
    url,
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  }
}

describe('CORS', () => {
  it('answers a preflight for POST /token from a listed origin with its methods, headers and max age', async () => {
    const t = await build(withCors)
    const response = await t.app.inject(preflight('/token', 'POST', APP, 'content-type'))
    expect(response.statusCode).toBe(204)
    expect(response.headers).toMatchObject({
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'GET, POST, PATCH, DELETE',
      'access-control-allow-headers': 'Authorization, Content-Type',
      'access-control-max-age': '3600',
    })
    // Each listed origin is echoed alone, so caches must keep answers apart per origin.
    expect(response.headers.vary).toMatch(/Origin/)
    expect(response.headers).not.toHaveProperty('access-control-allow-credentials')
  })

  it('answers a preflight for GET /users/me/ with Authorization from any listed origin', async () => {
    const t = await build(withCors)
    const response = await t.app.inject(preflight('/users/me/', 'GET', OTHER_APP))
    expect(response.statusCode).toBe(204)
    expect(response.headers['access-control-allow-origin']).toBe(OTHER_APP)
    expect(response.headers['access-control-allow-headers']).toBe('Authorization, Content-Type')
  })

  it('lets a listed origin read the token answer and the WWW-Authenticate and Retry-After headers', async () => {
    const t = await build(withCors)
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const request = tokenRequest({ username: 'alice', password: 'alice-password' })
    const login = await t.app.inject({ ...request, headers: { ...request.headers, origin: APP } })
    expect(login.statusCode).toBe(200)
    expect(login.headers['access-control-allow-origin']).toBe(APP)

    // Error answers too: a frontend must see why a call failed.
    const refused = await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { origin: APP },
    })
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['access-control-allow-origin']).toBe(APP)
    expect(refused.headers['access-control-expose-headers']).toBe('WWW-Authenticate, Retry-After')
  })

  it('gives an origin that is not listed no access-control-allow-origin, on preflights and on answers', async () => {
    const t = await build(withCors)
    const evil = 'https://evil.example.com'
    const response = await t.app.inject(preflight('/token', 'POST', evil))
    expect(response.headers).not.toHaveProperty('access-control-allow-origin')
    const answer = await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { origin: evil },
    })
    expect(answer.headers).not.toHaveProperty('access-control-allow-origin')
    // Listed origins are compared exactly: no prefix or suffix matching.
    const lookalike = await t.app.inject(preflight('/token', 'POST', `${APP}.evil.example.com`))
    expect(lookalike.headers).not.toHaveProperty('access-control-allow-origin')
  })

  it('adds no CORS header at all without CORS_ORIGINS', async () => {
    const t = await build()
    const responses = [
      await t.app.inject(preflight('/token', 'POST', APP)),
      await t.app.inject({ method: 'GET', url: '/users/me/', headers: { origin: APP } }),
      await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: APP } }),
    ]
    for (const response of responses) {
      expect(
        Object.keys(response.headers).filter((name) => name.startsWith('access-control-')),
      ).toEqual([])
    }
  })

  it.each([
    ['*', /'\*' is not allowed/],
    ['https://app.example.com/', /write it as 'https:\/\/app.example.com'/],
    ['https://App.example.com', /write it as 'https:\/\/app.example.com'/],
    ['https://app.example.com:443', /write it as 'https:\/\/app.example.com'/],
    ['https://app.example.com/login', /not an origin/],
    ['app.example.com', /not an origin/],
    [`${APP},null`, /'null' is not an origin/],
  ])('refuses CORS_ORIGINS=%s at start with a message naming the setting', (value, message) => {
    const start = () =>
      loadConfig({ cwd: tempDir(), env: { SECRET_KEY: TEST_SECRET, CORS_ORIGINS: value } })
    expect(start).toThrow(ConfigError)
    expect(start).toThrow(/^CORS_ORIGINS: /)
    expect(start).toThrow(message)
  })

  it('accepts origins with ports, IPv6 hosts and app schemes', () => {
    const origins = 'http://localhost:5173, http://[::1]:8080, capacitor://localhost'
    const config = loadConfig({
      cwd: tempDir(),
      env: { SECRET_KEY: TEST_SECRET, CORS_ORIGINS: origins },
    })
    expect(config.corsOrigins).toEqual([
      'http://localhost:5173',
      'http://[::1]:8080',
      'capacitor://localhost',
    ])
  })
})
