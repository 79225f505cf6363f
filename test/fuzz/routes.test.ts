// Fuzzing every route and none: random methods on known, mutated and unknown paths, with hostile
// query strings, headers and bodies, and no credentials. Never a 5xx, always a well-formed JSON error,
// and without credentials nothing in the database can change.
import { METHODS } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { buildShared, type TestApp } from '../helper.js'
import {
  createTally,
  expectWellFormed,
  fuzzParameters,
  fuzzTimeout,
  openStateReader,
} from '../support/fuzz.js'
import { anyBody, contentType, nastyString } from '../support/fuzz-inputs.js'

const UNTHROTTLED = {
  THROTTLE_PAIR_LIMIT: '1000000',
  THROTTLE_USER_LIMIT: '1000000',
  THROTTLE_IP_LIMIT: '1000000',
}

const KNOWN_PATHS = [
  '/',
  '/token',
  '/revoke',
  '/logout',
  '/users/me/',
  '/users/me',
  '/users/me/items/',
  '/users/me/sessions',
  '/users/me/sessions/some-id',
  '/users/me/sessions/revoke-all',
  '/users/me/password',
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/',
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/index.css',
  '/docs/static/../../package.json',
  '/docs/static/%2e%2e/%2e%2e/package.json',
  '/openapi.json',
  '/healthz',
  '/readyz',
  '/metrics',
]

/** Remove lone surrogates, which no client can put in a URL. */
const wellFormed = (text: string) => text.replace(/[\ud800-\udfff]/g, '')

/** A path edit: another segment, an encoded or raw hostile string, doubled slashes, case, dot segments. */
const pathEdit = fc.oneof(
  { weight: 6, arbitrary: fc.constant((path: string) => path) },
  nastyString.map((value) => (path: string) => `${path}/${encodeURIComponent(wellFormed(value))}`),
  nastyString
    .filter((value) => !/[?#\s\ud800-\udfff]/.test(value))
    .map((value) => (path: string) => `${path}${value}`),
  fc.constant((path: string) => path.replaceAll('/', '//')),
  fc.constant((path: string) => path.toUpperCase()),
  fc
    .constantFrom(
      '/..',
      '/.',
      '/%2e%2e',
      '/%2F',
      ';x=1',
      '%00',
      '%',
      '%zz',
      '~',
      '.json',
      '/index.html',
    )
    .map((suffix) => (path: string) => path + suffix),
)

const path = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(...KNOWN_PATHS), pathEdit)
      .map(([known, edit]) => edit(known)),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(
        nastyString.map((segment) => encodeURIComponent(wellFormed(segment))),
        { minLength: 1, maxLength: 4 },
      )
      .map((segments) => `/${segments.join('/')}`),
  },
)

const query = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(nastyString, nastyString), { maxLength: 3 })
    .map(
      (pairs) =>
        `?${pairs.map(([name, value]) => `${encodeURIComponent(wellFormed(name))}=${encodeURIComponent(wellFormed(value))}`).join('&')}`,
    ),
  fc.constantFrom(
    '?',
    '?&',
    '?=',
    '?%',
    '?a=%zz',
    '?a[b]=1&a[c]=2',
    '?__proto__[x]=1',
    '?access_token=x',
  ),
)

const headers = fc.record(
  {
    accept: fc.oneof(
      fc.constantFrom('*/*', 'text/html', 'application/json', 'application/xml', ''),
      nastyString,
    ),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'deflate', 'identity;q=0', '*;q=0', 'x'),
    'accept-language': nastyString,
    'if-none-match': fc.constantFrom('*', '"x"', 'W/"x"'),
    'if-modified-since': fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'garbage'),
    range: fc.constantFrom('bytes=0-10', 'bytes=-1', 'bytes=99999999-', 'bytes=x'),
    origin: fc.constantFrom('https://evil.example', 'null'),
    'x-forwarded-for': nastyString,
    'x-forwarded-host': nastyString,
    'x-http-method-override': fc.constantFrom('DELETE', 'POST', 'PUT'),
    host: fc.constantFrom('evil.example', 'localhost:1', ''),
    cookie: nastyString,
  },
  { requiredKeys: [] },
)

let t: TestApp & { close(): Promise<void> }
let state: ReturnType<typeof openStateReader>

beforeAll(async () => {
  t = await buildShared({ env: UNTHROTTLED })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  await t.login('alice', 'alice-password')
  state = openStateReader(t.dir)
})

afterAll(async () => {
  state.close()
  await t.close()
})

describe('fuzzing routes, methods and paths', () => {
  it(
    'answers any method on any path without a 5xx, with well-formed errors, and changes nothing without credentials',
    async () => {
      const tally = createTally()
      const request = fc.record({
        method: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE') },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        url: fc.tuple(path, query).map(([p, q]) => p + q),
        headers,
        type: contentType,
        body: fc.option(anyBody, { nil: undefined }),
      })
      await fc.assert(
        fc.asyncProperty(request, async ({ method, url, headers: extra, type, body }) => {
          const before = state.snapshot()
          const allHeaders: Record<string, string> = { ...extra }
          if (type !== undefined) allHeaders['content-type'] = type
          const response = await t.app.inject({
            method: method as 'GET',
            url,
            headers: allHeaders,
            ...(body === undefined ? {} : { payload: body }),
          })
          tally.add(response.statusCode)
          expectWellFormed(response, { method, url })
          expect(state.snapshot(), `${method} ${url} -> ${response.statusCode}`).toBe(before)
        }),
        fuzzParameters(500),
      )
      // Inputs reached real handlers, not only the 404 handler.
      expect(tally.count(200, 399), String(tally)).toBeGreaterThan(15)
      expect(tally.count(400), String(tally)).toBeGreaterThan(15)
      expect(tally.count(401), String(tally)).toBeGreaterThan(15)
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    },
    fuzzTimeout(500, 20),
  )

  it(
    'serves the public routes to any query string and headers',
    async () => {
      const publicRoute = fc.constantFrom(
        ['/healthz', 'application/json'],
        ['/readyz', 'application/json'],
        ['/openapi.json', 'application/json'],
        ['/.well-known/jwks.json', 'application/json'],
        ['/.well-known/oauth-authorization-server', 'application/json'],
        ['/docs', 'text/html'],
      )
      await fc.assert(
        fc.asyncProperty(publicRoute, query, headers, async ([url, type], search, extra) => {
          const response = await t.app.inject({ method: 'GET', url: url + search, headers: extra })
          expectWellFormed(response, { method: 'GET', url })
          expect(
            response.statusCode,
            `${url}${search} ${JSON.stringify(extra)} -> ${response.body.slice(0, 200)}`,
          ).toBe(200)
          expect(response.headers['content-type']).toContain(type)
        }),
        fuzzParameters(150),
      )
    },
    fuzzTimeout(150, 20),
  )
})
