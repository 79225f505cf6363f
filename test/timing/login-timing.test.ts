// An unknown username must not be told apart by timing from a wrong password, whether the real
// user's hash is a legacy bcrypt-12 (~260 ms) or a current argon2id (~30 ms).
import { performance } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { build, tokenRequest } from '../helper.js'

const TUTORIAL_HASH = '$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW'

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

describe('login timing', () => {
  it('answers unknown users, bcrypt users and argon2id users with wrong passwords in the same time', async () => {
    // 6 wrong passwords per username from one address: past the default pair limit, which is not under test.
    const t = await build({ env: { LOGIN_MIN_DURATION_MS: 'auto', THROTTLE_PAIR_LIMIT: '100' } })
    await t.store.createUser({ username: 'legacy', hashedPassword: TUTORIAL_HASH })
    await t.addUser({ username: 'modern', password: 'modern-password' })
    await t.app.ready()

    const samples: Record<string, number[]> = { legacy: [], modern: [], unknown: [] }
    for (let round = 0; round < 6; round++) {
      for (const username of Object.keys(samples)) {
        const started = performance.now()
        const response = await t.app.inject(tokenRequest({ username, password: 'wrong-password' }))
        samples[username]!.push(performance.now() - started)
        expect(response.statusCode).toBe(401)
      }
    }
    const medians = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))
    const spread = Math.max(...Object.values(medians)) - Math.min(...Object.values(medians))
    // Without the floor the legacy user would be ~200 ms slower than the others; with it, what is left is noise.
    expect(spread, JSON.stringify(medians)).toBeLessThan(Math.max(15, 0.02 * medians.unknown!))
    expect(medians.unknown).toBeGreaterThan(150)
  })
})
