// Fuzzing POST /token with throttling on (low limits, several client addresses): every 429 has one
// shape, whatever the username and whether it exists, and refused attempts change no user or session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { buildShared, tokenRequest, type TestApp } from '../helper.js'
import {
  createTally,
  expectWellFormed,
  fuzzParameters,
  fuzzTimeout,
  openStateReader,
} from '../support/fuzz.js'
import { FORM, formBody, nastyString, tokenFormPairs } from '../support/fuzz-inputs.js'

// Low limits, so that the pair, the username and the IP limits are all reached within a short run.
const THROTTLED = {
  THROTTLE_PAIR_LIMIT: '3',
  THROTTLE_USER_LIMIT: '8',
  THROTTLE_IP_LIMIT: '15',
  THROTTLE_BLOCK_SECONDS: '60',
}

const TOO_MANY = 'Too many failed login attempts; try again later'

let t: TestApp & { close(): Promise<void> }
let state: ReturnType<typeof openStateReader>

beforeAll(async () => {
  t = await buildShared({ env: THROTTLED })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  state = openStateReader(t.dir)
})

afterAll(async () => {
  state.close()
  await t.close()
})

describe('fuzzing throttled logins', () => {
  it(
    'answers every 429 in one shape, for existing and unknown usernames alike, and changes nothing',
    async () => {
      const tally = createTally()
      const seen: Record<'existing' | 'unknown', number> = { existing: 0, unknown: 0 }
      let shape: string | undefined
      const address = fc.oneof(
        {
          weight: 12,
          arbitrary: fc.constantFrom('203.0.113.1', '203.0.113.2', '198.51.100.7', '2001:db8::1'),
        },
        { weight: 1, arbitrary: fc.ipV4() },
        { weight: 1, arbitrary: fc.ipV6() },
      )
      const attempt = fc.oneof(
        {
          weight: 5,
          arbitrary: fc
            .record({
              username: fc.oneof(
                { weight: 6, arbitrary: fc.constantFrom('alice', 'nobody', 'ghost') },
                { weight: 1, arbitrary: nastyString.filter((value) => value !== '') },
              ),
              password: fc.oneof(
                { weight: 1, arbitrary: fc.constant('alice-password') },
                { weight: 6, arbitrary: nastyString.filter((value) => value !== '') },
              ),
            })
            .map((fields) => new URLSearchParams(fields).toString()),
        },
        { weight: 1, arbitrary: formBody(tokenFormPairs) },
      )
      await fc.assert(
        fc.asyncProperty(attempt, address, async (body, remoteAddress) => {
          const before = state.snapshot()
          const response = await t.app.inject({ ...tokenRequest(body, FORM), remoteAddress })
          tally.add(response.statusCode)
          expectWellFormed(response, { method: 'POST', url: '/token' })
          const context = `${body.slice(0, 120)} from ${remoteAddress} -> ${response.statusCode} ${response.body}`
          if (response.statusCode !== 200) expect(state.snapshot(), context).toBe(before)
          if (response.statusCode !== 429) return

          expect(response.json(), context).toEqual({
            detail: TOO_MANY,
            error: 'slow_down',
            error_description: TOO_MANY,
          })
          expect(response.headers['retry-after'], context).toMatch(/^[1-9]\d*$/)
          expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(
            t.config.throttle.maxBlockMs / 1000,
          )
          expect(response.headers['cache-control']).toBe('no-store')
          expect(response.headers['www-authenticate']).toBeUndefined()
          // The same header names on every 429: nothing set only for users that exist.
          const names = Object.keys(response.headers).sort().join(',')
          shape ??= names
          expect(names, context).toBe(shape)
          const username = new URLSearchParams(body).get('username')
          seen[username === 'alice' ? 'existing' : 'unknown'] += 1
        }),
        fuzzParameters(250),
      )
      // The run reached the limits, for an existing and for unknown usernames.
      expect(seen.existing, String(tally)).toBeGreaterThan(5)
      expect(seen.unknown, String(tally)).toBeGreaterThan(5)
      expect(tally.count(401), String(tally)).toBeGreaterThan(5)
    },
    fuzzTimeout(250, 60),
  )
})
