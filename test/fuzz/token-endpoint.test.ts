// Fuzzing POST /token (every grant, the MFA and client ones included), POST /revoke and POST /introspect: random and mutated bodies, content types and form
// encodings, oversized bodies. Whatever arrives: never a 5xx, always a well-formed JSON error, and a
// rejected request leaves users, hashes, sessions and refresh tokens exactly as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Secret, TOTP } from 'otpauth'
import type { LightMyRequestResponse } from 'fastify'
import { buildShared, type TestApp } from '../helper.js'
import {
  createTally,
  expectWellFormed,
  fuzzParameters,
  fuzzTimeout,
  openStateReader,
} from '../support/fuzz.js'
import {
  anyBody,
  authorizationHeader,
  contentType,
  FORM,
  formBody,
  jwtShaped,
  mutations,
  nastyString,
  tokenFormPairs,
} from '../support/fuzz-inputs.js'

// Throttling would turn most wrong passwords into 429s and hide what the password check does with them.
const UNTHROTTLED = {
  THROTTLE_PAIR_LIMIT: '1000000',
  THROTTLE_USER_LIMIT: '1000000',
  THROTTLE_IP_LIMIT: '1000000',
}

let t: TestApp & { close(): Promise<void> }
let state: ReturnType<typeof openStateReader>

beforeAll(async () => {
  t = await buildShared({ env: UNTHROTTLED })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  await t.addUser({ username: 'dora', password: 'dora-password', disabled: true })
  // A legacy hash, as a migrated FastAPI database holds (cost 4 keeps the fuzzing fast).
  const bcrypt = await import('@node-rs/bcrypt')
  await t.store.createUser({
    username: 'legacy',
    hashedPassword: await bcrypt.hash('legacy-password', 4),
  })
  // A user with a confirmed TOTP factor: the password answers mfa_required and an mfa_token.
  await t.addUser({ username: 'tess', password: 'tess-password' })
  const tess = (await t.store.findUserByUsername('tess'))!
  const holder = { name: 'tess', ip: null, userAgent: null, userId: tess.id }
  // No session: the password is the recent authentication enrolling needs.
  const proof = { sessionId: 'none', currentPassword: 'tess-password' }
  const { secret } = await t.services.mfa.startTotp(holder, proof)
  await t.services.mfa.confirmTotp(
    holder,
    proof,
    TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() - 30_000 }),
  )
  state = openStateReader(t.dir)
})

afterAll(async () => {
  state.close()
  await t.close()
})

type Post = { url: '/token' | '/revoke'; body: string; type: string | undefined }

async function post(
  { url, body, type }: Post,
  tally?: ReturnType<typeof createTally>,
): Promise<LightMyRequestResponse> {
  const response = await t.app.inject({
    method: 'POST',
    url,
    payload: body,
    headers: type === undefined ? {} : { 'content-type': type },
  })
  tally?.add(response.statusCode)
  expectWellFormed(response, { method: 'POST', url })
  // RFC 6749 §5.1: no answer of the token endpoint may be cached, errors included.
  expect(response.headers['cache-control']).toBe('no-store')
  return response
}

/** Sends a request that must change nothing (and, at /token, be refused). */
async function expectNoEffect(
  request: Post,
  tally: ReturnType<typeof createTally>,
): Promise<LightMyRequestResponse> {
  const before = state.snapshot()
  const response = await post(request, tally)
  const context = `${request.url} ${JSON.stringify(request.type)} ${JSON.stringify(request.body).slice(0, 300)} -> ${response.statusCode} ${response.body}`
  if (request.url === '/token') expect(response.statusCode, context).toBeGreaterThanOrEqual(400)
  expect(state.snapshot(), context).toBe(before)
  return response
}

const loginBody = (password = 'alice-password') =>
  new URLSearchParams({ username: 'alice', password }).toString()

describe('fuzzing POST /token', () => {
  it(
    'refuses random bodies of any content type with documented RFC 6749 errors, no 5xx and no change',
    async () => {
      const tally = createTally()
      await fc.assert(
        fc.asyncProperty(anyBody, contentType, async (body, type) => {
          const response = await expectNoEffect({ url: '/token', body, type }, tally)
          // The token endpoint's errors as the README lists them; anything malformed is invalid_request.
          expect([400, 401, 413], response.body).toContain(response.statusCode)
          if (response.statusCode === 400) {
            expect(response.json<{ error: string }>().error).toMatch(
              /^(invalid_request|invalid_grant|invalid_scope|unsupported_grant_type)$/,
            )
          }
        }),
        fuzzParameters(300),
      )
      // Some inputs got through the parser to a password check: the fuzzing went deeper than the first gate.
      expect(tally.count(401), String(tally)).toBeGreaterThan(0)
    },
    fuzzTimeout(300, 60),
  )

  it(
    'refuses forms with hostile values in every field, for both grants, with no change',
    async () => {
      const tally = createTally()
      await fc.assert(
        fc.asyncProperty(
          formBody(tokenFormPairs),
          fc.constantFrom(FORM, `${FORM}; charset=utf-8`, `${FORM};charset=UTF-8`),
          async (body, type) => {
            await expectNoEffect({ url: '/token', body, type }, tally)
          },
        ),
        fuzzParameters(250),
      )
      expect(tally.count(401), String(tally)).toBeGreaterThan(25)
      expect(tally.count(400), String(tally)).toBeGreaterThan(25)
    },
    fuzzTimeout(250, 80),
  )

  it(
    'logs in with a mutated login body only when the mutation kept its username and password',
    async () => {
      const tally = createTally()
      const valid = new URLSearchParams({
        grant_type: 'password',
        username: 'alice',
        password: 'alice-password',
        scope: 'me',
      }).toString()
      await fc.assert(
        fc.asyncProperty(mutations, async (mutate) => {
          const body = mutate(valid)
          const before = state.snapshot()
          const response = await post({ url: '/token', body, type: FORM }, tally)
          if (response.statusCode === 200) {
            // Still a correct login after the edit (e.g. a parameter appended): it must be alice's own.
            const fields = new URLSearchParams(body)
            expect(fields.get('username'), body).toBe('alice')
            expect(fields.get('password'), body).toBe('alice-password')
          } else {
            expect(state.snapshot(), `${body} -> ${response.body}`).toBe(before)
          }
        }),
        fuzzParameters(120),
      )
      expect(tally.count(400) + tally.count(401), String(tally)).toBeGreaterThan(40)
    },
    fuzzTimeout(120, 80),
  )

  it(
    'rotates a refresh token only for a request that still carries it, and changes nothing otherwise',
    async () => {
      const tally = createTally()
      const refreshBody = (token: string) =>
        new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString()
      let refreshToken = (await post({ url: '/token', body: loginBody(), type: FORM })).json<{
        refresh_token: string
      }>().refresh_token
      await fc.assert(
        fc.asyncProperty(mutations, async (mutate) => {
          const body = mutate(refreshBody(refreshToken))
          const before = state.snapshot()
          const response = await post({ url: '/token', body, type: FORM }, tally)
          if (response.statusCode === 200) {
            expect(new URLSearchParams(body).get('refresh_token'), body).toBe(refreshToken)
            refreshToken = response.json<{ refresh_token: string }>().refresh_token
          } else {
            expect(state.snapshot(), `${body} -> ${response.body}`).toBe(before)
          }
        }),
        fuzzParameters(200),
      )
      // The session survived every refused mutation: its latest token still works.
      const last = await post({ url: '/token', body: refreshBody(refreshToken), type: FORM })
      expect(last.statusCode, `${last.body} after ${String(tally)}`).toBe(200)
      expect(tally.count(400), String(tally)).toBeGreaterThan(40)
    },
    fuzzTimeout(200, 30),
  )

  it(
    'answers 413 to a form body over BODY_LIMIT, whatever it holds',
    async () => {
      const tally = createTally()
      const url = fc.constantFrom('/token' as const, '/revoke' as const)
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 * t.config.bodyLimit }),
          url,
          nastyString,
          async (extra, path, filler) => {
            const unit = filler === '' ? 'x' : filler
            const body = `username=alice&password=${unit.repeat(Math.ceil((t.config.bodyLimit + extra) / unit.length))}`
            const response = await expectNoEffect({ url: path, body, type: FORM }, tally)
            expect(response.statusCode).toBe(413)
            expect(response.json()).toEqual({ detail: 'Request body is too large' })
          },
        ),
        fuzzParameters(40),
      )
    },
    fuzzTimeout(40, 100),
  )
})

describe('fuzzing the MFA grants', () => {
  const OTP = 'http://auth0.com/oauth/grant-type/mfa-otp'
  const RECOVERY = 'http://auth0.com/oauth/grant-type/mfa-recovery-code'

  it(
    'refuses hostile mfa_token, otp and recovery_code values with invalid_grant, invalid_request or 429, no 5xx and no change',
    async () => {
      const tally = createTally()
      const live = async (): Promise<string> => {
        const body = new URLSearchParams({ username: 'tess', password: 'tess-password' })
        const response = await post({ url: '/token', body: body.toString(), type: FORM }, tally)
        expect(response.statusCode, response.body).toBe(403)
        return response.json<{ mfa_token: string }>().mfa_token
      }
      const tokens = [await live(), await live()]
      const mfaToken = fc.oneof(fc.constantFrom(...tokens), nastyString, jwtShaped)
      const body = fc
        .tuple(
          fc.constantFrom(OTP, RECOVERY),
          mfaToken,
          nastyString,
          fc.constantFrom('otp', 'recovery_code', 'client_id', 'scope'),
        )
        .map(([grant, token, value, field]) =>
          new URLSearchParams({ grant_type: grant, mfa_token: token, [field]: value }).toString(),
        )
      await fc.assert(
        fc.asyncProperty(fc.oneof(body, formBody(tokenFormPairs)), async (payload) => {
          const response = await expectNoEffect({ url: '/token', body: payload, type: FORM }, tally)
          expect([400, 401, 413, 429], response.body).toContain(response.statusCode)
          if (response.statusCode === 400) {
            expect(response.json<{ error: string }>().error).toMatch(
              /^(invalid_request|invalid_grant|invalid_scope|unsupported_grant_type)$/,
            )
          }
        }),
        fuzzParameters(250),
      )
      // Dead or hostile mfa_tokens reached the grant and were refused as invalid_grant.
      expect(tally.count(400), String(tally)).toBeGreaterThan(40)
    },
    fuzzTimeout(250, 60),
  )
})

describe('fuzzing POST /revoke', () => {
  it(
    'answers 200 or a well-formed 4xx to any body and revokes nothing it was not given',
    async () => {
      const tally = createTally()
      // A live session that junk must not end.
      const login = await post({ url: '/token', body: loginBody(), type: FORM })
      const { access_token: accessToken, refresh_token: refreshToken } = login.json<{
        access_token: string
        refresh_token: string
      }>()
      // Near misses: the real tokens with one character of their signed part changed.
      const nearMiss = fc
        .tuple(
          fc.constantFrom(accessToken, refreshToken),
          fc.nat(),
          fc.constantFrom('A', 'B', '_', '-', '.'),
        )
        .map(([token, at, char]) => {
          const signedPart = token.includes('.') ? token.lastIndexOf('.') : token.length
          const index = at % signedPart
          return (
            token.slice(0, index) + (token[index] === char ? '0' : char) + token.slice(index + 1)
          )
        })
      const token = fc.oneof(jwtShaped, nastyString, nearMiss)
      const body = fc.oneof(
        token.map((value) => new URLSearchParams({ token: value }).toString()),
        fc
          .tuple(token, nastyString)
          .map(([value, hint]) =>
            new URLSearchParams({ token: value, token_type_hint: hint }).toString(),
          ),
        anyBody,
      )
      await fc.assert(
        fc.asyncProperty(body, contentType, async (payload, type) => {
          const response = await expectNoEffect({ url: '/revoke', body: payload, type }, tally)
          expect([200, 400, 413], response.body).toContain(response.statusCode)
        }),
        fuzzParameters(300),
      )
      expect(tally.count(200), String(tally)).toBeGreaterThan(30)
      const still = await t.app.inject({
        method: 'GET',
        url: '/users/me/',
        headers: { authorization: `Bearer ${accessToken}` },
      })
      expect(still.statusCode).toBe(200)
    },
    fuzzTimeout(300, 30),
  )
})

describe('fuzzing POST /introspect', () => {
  it(
    'answers {"active": false} or a well-formed 4xx to any token, body and client credentials; never a 5xx',
    async () => {
      const tally = createTally()
      const { TEST_ACTOR } = await import('../helper.js')
      const rs = await t.services.clients.add(
        {
          name: 'fuzz-rs',
          confidential: true,
          grants: ['client_credentials'],
          resource: 'https://fuzz.example',
        },
        TEST_ACTOR,
      )
      const good = `Basic ${Buffer.from(`${rs.client.client_id}:${rs.secret!}`).toString('base64')}`
      const login = await post({ url: '/token', body: loginBody(), type: FORM })
      const { access_token: accessToken } = login.json<{ access_token: string }>()
      const nearMiss = fc.tuple(fc.nat(), fc.constantFrom('A', 'B', '_', '-')).map(([at, char]) => {
        const index = at % accessToken.lastIndexOf('.')
        return (
          accessToken.slice(0, index) +
          (accessToken[index] === char ? '0' : char) +
          accessToken.slice(index + 1)
        )
      })
      const token = fc.oneof(jwtShaped, nastyString, nearMiss)
      const body = fc.oneof(
        fc.tuple(token, fc.option(nastyString, { nil: undefined })).map(([value, hint]) =>
          new URLSearchParams({
            token: value,
            ...(hint === undefined ? {} : { token_type_hint: hint }),
          }).toString(),
        ),
        anyBody,
      )
      const authorization = fc.oneof(
        fc.constant(good),
        fc.constant(good),
        authorizationHeader,
        nastyString.map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
      )
      await fc.assert(
        fc.asyncProperty(
          body,
          fc.oneof(fc.constant(FORM), fc.constant(FORM), contentType),
          authorization,
          async (payload, type, auth) => {
            const headers: Record<string, string> = { authorization: auth }
            if (type !== undefined) headers['content-type'] = type
            const response = await t.app.inject({
              method: 'POST',
              url: '/introspect',
              payload,
              headers,
            })
            tally.add(response.statusCode)
            expectWellFormed(response, { method: 'POST', url: '/introspect' })
            expect([200, 400, 401, 413, 429], response.body).toContain(response.statusCode)
            if (response.statusCode === 200) {
              const answer = response.json<{ active: boolean }>()
              if (answer.active) expect(payload).toContain(accessToken.slice(0, 20))
            }
          },
        ),
        fuzzParameters(300),
      )
      expect(tally.count(200), String(tally)).toBeGreaterThan(30)
    },
    fuzzTimeout(300, 30),
  )
})
