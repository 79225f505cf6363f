// Fuzzing the bearer-protected routes: Authorization headers with random schemes, tokens, unicode and
// control characters; mutated real tokens; hostile bodies, session ids and query strings under a
// valid token. Never a 5xx, always a well-formed error, and a refused request changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { buildShared, type TestApp } from '../helper.js'
import {
  createTally,
  expectWellFormed,
  fuzzParameters,
  fuzzTimeout,
  openStateReader,
} from '../support/fuzz.js'
import { authorizationHeader, contentType, mutations, nastyString } from '../support/fuzz-inputs.js'

const UNTHROTTLED = {
  THROTTLE_PAIR_LIMIT: '1000000',
  THROTTLE_USER_LIMIT: '1000000',
  THROTTLE_IP_LIMIT: '1000000',
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE'
  url: string
  /** A body the route accepts, sent with fuzzed headers so that only the credentials are wrong. */
  json?: object
}

const PROTECTED: Route[] = [
  { method: 'GET', url: '/users/me/' },
  { method: 'GET', url: '/users/me' },
  { method: 'GET', url: '/users/me/items/' },
  { method: 'GET', url: '/users/me/sessions' },
  { method: 'DELETE', url: '/users/me/sessions/some-session' },
  { method: 'POST', url: '/users/me/sessions/revoke-all' },
  {
    method: 'POST',
    url: '/users/me/password',
    json: { current_password: 'alice-password', new_password: 'a new passphrase' },
  },
  { method: 'POST', url: '/logout' },
  { method: 'GET', url: '/users/me/mfa' },
  { method: 'POST', url: '/users/me/mfa/totp' },
  { method: 'POST', url: '/users/me/mfa/totp/confirm', json: { code: '123456' } },
  { method: 'DELETE', url: '/users/me/mfa/totp', json: { password: 'alice-password' } },
]

let t: TestApp & { close(): Promise<void> }
let state: ReturnType<typeof openStateReader>
let aliceToken: string
let bobSessionId: string

beforeAll(async () => {
  t = await buildShared({ env: UNTHROTTLED })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  await t.addUser({ username: 'bob', password: 'bob-password' })
  aliceToken = await t.login('alice', 'alice-password')
  const bobToken = await t.login('bob', 'bob-password')
  const sessions = await t.app.inject({
    method: 'GET',
    url: '/users/me/sessions',
    headers: { authorization: `Bearer ${bobToken}` },
  })
  bobSessionId = sessions.json<Array<{ id: string }>>()[0]!.id
  state = openStateReader(t.dir)
})

afterAll(async () => {
  state.close()
  await t.close()
})

async function send(
  route: Route,
  headers: Record<string, string>,
  payload?: string,
): Promise<LightMyRequestResponse> {
  const body = payload ?? (route.json ? JSON.stringify(route.json) : undefined)
  const allHeaders =
    route.json && payload === undefined
      ? { 'content-type': 'application/json', ...headers }
      : headers
  const response = await t.app.inject({
    method: route.method,
    url: route.url,
    headers: allHeaders,
    ...(body === undefined ? {} : { payload: body }),
  })
  expectWellFormed(response, route)
  return response
}

describe('fuzzing the Authorization header', () => {
  it(
    'answers 401 with a Bearer challenge to any header that is not a live token, on every protected route, with no change',
    async () => {
      const tally = createTally()
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...PROTECTED),
          authorizationHeader,
          async (route, authorization) => {
            const before = state.snapshot()
            const response = await send(route, { authorization })
            tally.add(response.statusCode)
            const context = `${route.method} ${route.url} ${JSON.stringify(authorization).slice(0, 200)} -> ${response.body}`
            expect(response.statusCode, context).toBe(401)
            expect(response.headers['www-authenticate'], context).toMatch(
              /^Bearer( error="invalid_token")?$/,
            )
            expect(response.json(), context).toEqual({
              detail: expect.stringMatching(
                /^(Not authenticated|Could not validate credentials)$/,
              ) as unknown,
            })
            expect(state.snapshot(), context).toBe(before)
          },
        ),
        fuzzParameters(500),
      )
    },
    fuzzTimeout(500, 10),
  )

  it(
    'refuses a mutated live token unless the edit left the same token',
    async () => {
      const tally = createTally()
      const reading = PROTECTED.filter((route) => route.method === 'GET')
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...reading),
          mutations,
          fc.constantFrom('Bearer ', 'bearer ', 'Bearer  '),
          async (route, mutate, scheme) => {
            const token = mutate(aliceToken)
            const response = await send(route, { authorization: scheme + token })
            tally.add(response.statusCode)
            if (response.statusCode === 200)
              expect(token.trim(), 'a different string was accepted as the token').toBe(aliceToken)
            else expect(response.statusCode, response.body).toBe(401)
          },
        ),
        fuzzParameters(300),
      )
      expect(tally.count(401), String(tally)).toBeGreaterThan(200)
    },
    fuzzTimeout(300, 10),
  )
})

describe('fuzzing requests with a live token', () => {
  it(
    'refuses hostile password-change bodies without changing the hash or any session',
    async () => {
      const tally = createTally()
      const wrongPassword = nastyString.filter((value) => value !== 'alice-password')
      const passwordField = fc.oneof(
        wrongPassword,
        fc.integer(),
        fc.constant(null),
        fc.array(fc.string(), { maxLength: 2 }),
        fc.object({ maxDepth: 1 }),
      )
      const json = fc
        .oneof(
          fc.record(
            { current_password: passwordField, new_password: passwordField },
            { requiredKeys: [] },
          ),
          fc.record({ current_password: wrongPassword, new_password: wrongPassword }),
          fc.jsonValue({ maxDepth: 2 }),
        )
        .map((value) => JSON.stringify(value))
      const body = fc.oneof(
        json,
        json.chain((text) => mutations.map((mutate) => mutate(text))),
        fc.string({ unit: 'binary', maxLength: 100 }),
      )
      const route = PROTECTED.find((candidate) => candidate.url === '/users/me/password')!
      let checked = 0
      await fc.assert(
        fc.asyncProperty(
          body,
          fc.oneof(fc.constant('application/json'), contentType),
          async (payload, type) => {
            const before = state.snapshot()
            const headers: Record<string, string> = { authorization: `Bearer ${aliceToken}` }
            if (type !== undefined) headers['content-type'] = type
            const response = await send(route, headers, payload)
            tally.add(response.statusCode)
            // Well-formed enough to be judged: by the new password's policy (checked first) or by
            // the current password.
            if (
              /"Incorrect password"|The password must|This password is too common/.test(
                response.body,
              )
            ) {
              checked += 1
            }
            const context = `${JSON.stringify(type)} ${payload.slice(0, 200)} -> ${response.statusCode} ${response.body}`
            expect([400, 413, 415], context).toContain(response.statusCode)
            expect(state.snapshot(), context).toBe(before)
          },
        ),
        fuzzParameters(300),
      )
      // Some bodies were well-formed enough to reach the current-password check.
      expect(checked, String(tally)).toBeGreaterThan(20)
    },
    fuzzTimeout(300, 60),
  )

  it(
    'ends no session for a hostile or foreign session id',
    async () => {
      const tally = createTally()
      const id = fc.oneof(
        nastyString.map((value) => encodeURIComponent(value.replace(/[\ud800-\udfff]/g, ''))),
        nastyString.filter((value) => !/[?#\ud800-\udfff]/.test(value)),
        fc.constantFrom(
          bobSessionId,
          encodeURIComponent(bobSessionId),
          `${bobSessionId}%00`,
          '..',
          '%2e%2e',
          '%2F',
          '%zz',
          'x'.repeat(70),
          'x'.repeat(200),
        ),
      )
      await fc.assert(
        fc.asyncProperty(id, async (sessionId) => {
          const before = state.snapshot()
          const route: Route = { method: 'DELETE', url: `/users/me/sessions/${sessionId}` }
          const response = await send(route, { authorization: `Bearer ${aliceToken}` })
          tally.add(response.statusCode)
          const context = `${route.url.slice(0, 200)} -> ${response.statusCode} ${response.body}`
          // 405: an empty id names the session list, which answers GET only.
          expect([400, 404, 405, 414], context).toContain(response.statusCode)
          expect(state.snapshot(), context).toBe(before)
        }),
        fuzzParameters(200),
      )
      expect(tally.count(404), String(tally)).toBeGreaterThan(50)
    },
    fuzzTimeout(200, 10),
  )

  it(
    'answers the token owner whatever query string and extra headers come with it',
    async () => {
      const query = fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom('access_token', 'token', 'username', 'sub'), nastyString),
          nastyString,
        ),
        { maxLength: 3 },
      )
      const extra = fc.record(
        {
          'x-forwarded-for': nastyString,
          accept: fc.oneof(fc.constantFrom('*/*', 'text/html', 'application/xml', ''), nastyString),
          'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', '*;q=0', 'x'),
          'x-http-method-override': fc.constantFrom('DELETE', 'POST'),
          cookie: nastyString,
        },
        { requiredKeys: [] },
      )
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/users/me/', '/users/me/items/', '/users/me/sessions'),
          query,
          extra,
          async (path, pairs, headers) => {
            const search = pairs
              .map(
                ([name, value]) =>
                  `${encodeURIComponent(name.replace(/[\ud800-\udfff]/g, ''))}=${encodeURIComponent(value.replace(/[\ud800-\udfff]/g, ''))}`,
              )
              .join('&')
            const response = await send(
              { method: 'GET', url: `${path}?${search}` },
              { ...headers, authorization: `Bearer ${aliceToken}` },
            )
            expect(response.statusCode, response.body).toBe(200)
            if (path === '/users/me/') expect(response.json()).toMatchObject({ username: 'alice' })
          },
        ),
        fuzzParameters(150),
      )
    },
    fuzzTimeout(150, 10),
  )

  it(
    'answers 413 to a body over BODY_LIMIT on the routes that read one',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 2 * t.config.bodyLimit }),
          fc.constantFrom('/users/me/password', '/logout'),
          async (extra, url) => {
            const before = state.snapshot()
            const payload = JSON.stringify({
              current_password: 'x'.repeat(t.config.bodyLimit + extra),
              new_password: 'y',
            })
            const response = await send(
              { method: 'POST', url },
              { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
              payload,
            )
            expect(response.statusCode).toBe(413)
            expect(response.json()).toEqual({ detail: 'Request body is too large' })
            expect(state.snapshot()).toBe(before)
          },
        ),
        fuzzParameters(20),
      )
    },
    fuzzTimeout(20, 100),
  )
})
