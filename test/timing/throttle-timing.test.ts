// A throttled login (429) must say nothing about whether the username exists: same status, headers
// and body, and times a Welch t-test cannot tell apart, for an argon2id user, a bcrypt-12 user and a
// username that does not exist. It must also come at once, without a password check.
import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { build, tokenRequest, type TestApp } from '../helper.js'
import { TUTORIAL_HASH } from '../support/tutorial-db.js'
import { describeWelch, welch } from '../support/welch.js'

/** See login-timing.test.ts. */
const T_LIMIT = 4.5

afterEach(() => {
  vi.useRealTimers()
})

async function attempt(t: TestApp, username: string) {
  const started = performance.now()
  const response = await t.app.inject({
    ...tokenRequest({ username, password: 'wrong-password' }),
    remoteAddress: '203.0.113.9',
  })
  return { response, elapsed: performance.now() - started }
}

describe('throttled login timing', () => {
  it('answers 429 alike for existing and unknown usernames: status, headers, body and time', async () => {
    // Retry-After counts down with the wall clock: frozen, every refusal carries the same number.
    // (Only Date is faked; performance.now() and timers stay real.)
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = await build({ env: { LOGIN_MIN_DURATION_MS: 'auto', THROTTLE_PAIR_LIMIT: '1' } })
    await t.store.createUser({ username: 'johndoe', hashedPassword: TUTORIAL_HASH })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    await t.app.ready()

    const names = ['ghost', 'johndoe', 'alice'] as const
    // One failure each uses up the pair limit; these pay the full timing floor.
    const floorTimes: number[] = []
    for (const name of names) {
      const { response, elapsed } = await attempt(t, name)
      expect(response.statusCode).toBe(401)
      floorTimes.push(elapsed)
    }

    const samples: Record<(typeof names)[number], number[]> = { ghost: [], johndoe: [], alice: [] }
    // Not measured: the first refusals warm up the throttle's code path.
    for (const name of names) await attempt(t, name)
    for (let round = 0; round < 150; round++) {
      const answers: Array<Awaited<ReturnType<typeof attempt>>['response']> = []
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length]!
        const { response, elapsed } = await attempt(t, name)
        samples[name].push(elapsed)
        answers.push(response)
      }
      // Every header alike but Date, which may tick over between two answers.
      const headers = (answer: (typeof answers)[number]) => ({ ...answer.headers, date: undefined })
      for (const answer of answers) {
        expect(answer.statusCode).toBe(429)
        expect(headers(answer)).toEqual(headers(answers[0]!))
        expect(answer.body).toBe(answers[0]!.body)
      }
    }

    const bcryptUser = welch(samples.ghost, samples.johndoe)
    const argon2User = welch(samples.ghost, samples.alice)
    console.log(
      [
        describeWelch('429: unknown vs bcrypt-12 user', bcryptUser),
        describeWelch('429: unknown vs argon2id user', argon2User),
      ].join('\n'),
    )
    expect(Math.abs(bcryptUser.t)).toBeLessThan(T_LIMIT)
    expect(Math.abs(argon2User.t)).toBeLessThan(T_LIMIT)
    // At once: a refusal costs a small fraction of an answer padded to the floor.
    const refusals = Object.values(samples)
      .flat()
      .sort((a, b) => a - b)
    expect(refusals[Math.floor(refusals.length / 2)]!).toBeLessThan(Math.min(...floorTimes) / 4)
  }, 60_000)
})
