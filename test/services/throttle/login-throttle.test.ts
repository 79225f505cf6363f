// The login throttle as a service, on the counters of a temporary SQLite store and a fake clock: what it
// counts under which key, the refusal and its doubling wait, the quiet window that forgets, success
// and cancellation giving attempts back, the username counter no single address can fill, the
// second-factor and recovery limits, and what happens when the counters cannot be reached.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Throttled, ThrottleUnavailable } from '../../../src/errors.js'
import {
  createLoginThrottle,
  SECOND_FACTOR_LIMITS,
  type LoginThrottle,
  type ThrottlePolicy,
} from '../../../src/services/throttle/login-throttle.js'
import type { ThrottleStore } from '../../../src/store/contract.js'
import { build, TEST_SECRET } from '../../helper.js'

const MINUTE = 60_000
const POLICY: ThrottlePolicy = {
  pairLimit: 3,
  userLimit: 7,
  ipLimit: 10,
  registrationLimit: 4,
  windowMs: 15 * MINUTE,
  baseBlockMs: MINUTE,
  maxBlockMs: 4 * MINUTE,
}
const IP = '203.0.113.7'

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
})

afterEach(() => {
  vi.useRealTimers()
})

async function throttleOn(
  options: {
    store?: ThrottleStore
    failureMode?: 'open' | 'closed'
    policy?: Partial<ThrottlePolicy>
  } = {},
): Promise<{ throttle: LoginThrottle; warnings: ReturnType<typeof vi.fn> }> {
  const store = options.store ?? (await build()).store
  const warnings = vi.fn()
  const throttle = createLoginThrottle({
    store,
    policy: { ...POLICY, ...options.policy },
    secret: TEST_SECRET,
    failureMode: options.failureMode ?? 'closed',
    log: { warn: warnings },
  })
  return { throttle, warnings }
}

/** Counts `times` failed attempts (reserved, never succeeded). */
async function fail(throttle: LoginThrottle, username: string, ip: string, times = 1) {
  for (let i = 0; i < times; i++) await throttle.reserve(username, ip)
}

/** How long an attempt is refused for, in seconds; 0 when it is let through (and then counted). */
const refusedFor = (throttle: LoginThrottle, username: string, ip: string): Promise<number> =>
  throttle.reserve(username, ip).then(
    () => 0,
    (error: unknown) => {
      if (error instanceof Throttled) return error.retryAfterSeconds
      throw error
    },
  )

const later = (ms: number) => vi.setSystemTime(Date.now() + ms)

describe('the login throttle', () => {
  it('refuses a (username, address) pair past its limit, and no other pair', async () => {
    const { throttle } = await throttleOn()
    await fail(throttle, 'alice', IP, 3)
    expect(await refusedFor(throttle, 'alice', IP)).toBe(60)
    // Counted as typed under NFKC and lower case: the same user.
    expect(await refusedFor(throttle, 'ALICE', IP)).toBe(60)
    expect(await refusedFor(throttle, 'alice', '198.51.100.1')).toBe(0)
    expect(await refusedFor(throttle, 'bob', IP)).toBe(0)
  })

  it('lets one attempt through after each wait, doubling the wait up to its maximum', async () => {
    const { throttle } = await throttleOn()
    await fail(throttle, 'alice', IP, 3)
    const waits: number[] = []
    for (let round = 0; round < 4; round++) {
      waits.push(await refusedFor(throttle, 'alice', IP))
      later(waits.at(-1)! * 1000)
      expect(await refusedFor(throttle, 'alice', IP)).toBe(0)
    }
    expect(waits).toEqual([60, 120, 240, 240])
  })

  it('forgets after a quiet window', async () => {
    const { throttle } = await throttleOn()
    await fail(throttle, 'alice', IP, 3)
    expect(await refusedFor(throttle, 'alice', IP)).toBe(60)
    later(MINUTE + POLICY.windowMs)
    // A fresh window: the whole limit again, and the first wait again.
    await fail(throttle, 'alice', IP, 3)
    expect(await refusedFor(throttle, 'alice', IP)).toBe(60)
  })

  it('clears the pair on success, and gives a cancelled attempt back', async () => {
    const { throttle } = await throttleOn()
    await fail(throttle, 'alice', IP, 2)
    await (await throttle.reserve('alice', IP)).succeeded()
    await fail(throttle, 'alice', IP, 3)
    expect(await refusedFor(throttle, 'alice', IP)).toBe(60)

    await fail(throttle, 'bob', IP, 2)
    // No password was checked (the server was overloaded): the attempt does not count.
    for (let i = 0; i < 5; i++) await (await throttle.reserve('bob', IP)).cancelled()
    expect(await refusedFor(throttle, 'bob', IP)).toBe(0)
    expect(await refusedFor(throttle, 'bob', IP)).toBe(60)
  })

  it('admits a proven attempt as reserve and success would, writing only when that changes something', async () => {
    const store = (await build()).store
    const { throttle } = await throttleOn({ store })
    const updates = vi.spyOn(store, 'updateThrottles')
    // The first marks the address as known: written, as a login's success.
    await throttle.admitProven('client:api', IP)
    expect(updates).toHaveBeenCalledTimes(2)
    await throttle.admitProven('client:api', IP)
    expect(updates).toHaveBeenCalledTimes(2)
    // A day later the mark is renewed, once.
    later(86_400_000 + 1)
    await throttle.admitProven('client:api', IP)
    await throttle.admitProven('client:api', IP)
    expect(updates).toHaveBeenCalledTimes(4)
    // Failures of the pair are forgotten: the whole limit again afterwards.
    await fail(throttle, 'client:api', IP, 2)
    await throttle.admitProven('client:api', IP)
    await fail(throttle, 'client:api', IP, 3)
    expect(await refusedFor(throttle, 'client:api', IP)).toBe(60)
    // Refused while the pair is, like any attempt.
    await expect(throttle.admitProven('client:api', IP)).rejects.toBeInstanceOf(Throttled)
    // And while the address is refused over all usernames.
    await fail(throttle, 'someone', '198.51.100.9', 3)
    await fail(throttle, 'another', '198.51.100.9', 3)
    await fail(throttle, 'a-third', '198.51.100.9', 3)
    await fail(throttle, 'a-fourth', '198.51.100.9', 1)
    await expect(throttle.admitProven('someone-else', '198.51.100.9')).rejects.toBeInstanceOf(
      Throttled,
    )
  })

  it('refuses an address past its limit over all usernames', async () => {
    const { throttle } = await throttleOn()
    for (let i = 0; i < 10; i++) await fail(throttle, `user-${i}`, IP)
    expect(await refusedFor(throttle, 'someone-else', IP)).toBe(60)
    expect(await refusedFor(throttle, 'someone-else', '198.51.100.1')).toBe(0)
  })

  it('counts an IPv6 client by its /64, and an IPv4-mapped one as its IPv4 address', async () => {
    const { throttle } = await throttleOn()
    await fail(throttle, 'alice', '2001:db8:1:2::1', 3)
    expect(await refusedFor(throttle, 'alice', '2001:db8:1:2:ffff::9')).toBe(60)
    expect(await refusedFor(throttle, 'alice', '2001:db8:1:3::1')).toBe(0)
    await fail(throttle, 'bob', '::ffff:192.0.2.1', 3)
    expect(await refusedFor(throttle, 'bob', '192.0.2.1')).toBe(60)
  })

  it('refuses a username failed from many addresses, except from an address it logged in from', async () => {
    const { throttle } = await throttleOn()
    await (await throttle.reserve('alice', '192.0.2.200')).succeeded()
    for (let i = 0; i < 7; i++) await fail(throttle, 'alice', `198.51.100.${i}`)
    expect(await refusedFor(throttle, 'alice', '198.51.100.99')).toBe(60)
    expect(await refusedFor(throttle, 'alice', '192.0.2.200')).toBe(0)
  })

  it('never lets one address fill the username counter alone', async () => {
    // One attempt a minute after the first refusal, all within one window of the username's.
    const { throttle } = await throttleOn({
      policy: { ipLimit: 1_000, windowMs: 60 * MINUTE, maxBlockMs: MINUTE },
    })
    let allowed = 0
    for (let minute = 0; minute < 10; minute++) {
      while ((await refusedFor(throttle, 'alice', IP)) === 0) allowed++
      later(MINUTE)
    }
    expect(allowed).toBeGreaterThan(POLICY.userLimit)
    // That address counted its first three against the username, no more: four other addresses may
    // still fail once each, and only the fifth is refused for the username.
    for (let i = 1; i <= 4; i++)
      expect(await refusedFor(throttle, 'alice', `198.51.100.${i}`)).toBe(0)
    expect(await refusedFor(throttle, 'alice', '198.51.100.5')).toBe(60)
  })

  it('limits wrong second-factor codes per mfa_token and per user, forgetting both on success', async () => {
    const { throttle } = await throttleOn()
    for (let i = 0; i < SECOND_FACTOR_LIMITS.challenge; i++)
      await throttle.secondFactor(1, 'challenge-a')
    await expect(throttle.secondFactor(1, 'challenge-a')).rejects.toBeInstanceOf(Throttled)
    for (let i = 0; i < SECOND_FACTOR_LIMITS.user - SECOND_FACTOR_LIMITS.challenge; i++)
      await throttle.secondFactor(1, `challenge-${i}`)
    await expect(throttle.secondFactor(1, 'challenge-new')).rejects.toBeInstanceOf(Throttled)
    await expect(throttle.secondFactor(2, 'challenge-b')).resolves.toBeDefined()

    const attempt = await throttle.secondFactor(2, 'challenge-c')
    await attempt.succeeded()
    for (let i = 0; i < SECOND_FACTOR_LIMITS.challenge; i++)
      await throttle.secondFactor(2, 'challenge-c')
    await expect(throttle.secondFactor(2, 'challenge-c')).rejects.toBeInstanceOf(Throttled)
  })

  it('limits recovery mails per account by the per-address rule, and registrations per address', async () => {
    const { throttle } = await throttleOn()
    for (let i = 0; i < 3; i++) await throttle.recovery('Alice@Example.com', IP)
    const refused = throttle.recovery('alice@example.com', IP)
    await expect(refused).rejects.toBeInstanceOf(Throttled)
    await expect(refused).rejects.toThrow('Too many requests; try again later')
    // One address cannot stop the account's links for everyone...
    await expect(throttle.recovery('alice@example.com', '198.51.100.1')).resolves.toBeUndefined()
    // ...but many together still bound the mails one mailbox gets (userLimit 7).
    for (let i = 2; i < 5; i++) await throttle.recovery('alice@example.com', `198.51.100.${i}`)
    await expect(throttle.recovery('alice@example.com', '198.51.100.9')).rejects.toBeInstanceOf(
      Throttled,
    )
    for (let i = 0; i < 4; i++) await throttle.registration(IP)
    await expect(throttle.registration(IP)).rejects.toBeInstanceOf(Throttled)
    await expect(throttle.registration('198.51.100.1')).resolves.toBeUndefined()
  })

  describe('when the counters cannot be reached', () => {
    const unreachable: ThrottleStore = {
      async updateThrottles() {
        throw new ThrottleUnavailable('the counters are away')
      },
      async readThrottles() {
        throw new ThrottleUnavailable('the counters are away')
      },
    }

    it('refuses attempts in the closed mode', async () => {
      const { throttle } = await throttleOn({ store: unreachable, failureMode: 'closed' })
      await expect(throttle.reserve('alice', IP)).rejects.toBeInstanceOf(ThrottleUnavailable)
      await expect(throttle.secondFactor(1)).rejects.toBeInstanceOf(ThrottleUnavailable)
    })

    it('lets attempts through in the open mode, with a warning each time', async () => {
      const { throttle, warnings } = await throttleOn({ store: unreachable, failureMode: 'open' })
      const reservation = await throttle.reserve('alice', IP)
      await expect(reservation.succeeded()).resolves.toBeUndefined()
      await expect(throttle.recovery('alice', IP)).resolves.toBeUndefined()
      expect(warnings).toHaveBeenCalledTimes(2)
      expect(warnings.mock.calls[0]![1]).toMatch(/REDIS_FAILURE_MODE=open/)
    })

    it('fails on anything but unavailable counters, in either mode', async () => {
      const broken: ThrottleStore = {
        async updateThrottles() {
          throw new Error('a bug')
        },
        async readThrottles() {
          throw new Error('a bug')
        },
      }
      const { throttle } = await throttleOn({ store: broken, failureMode: 'open' })
      await expect(throttle.reserve('alice', IP)).rejects.toThrow('a bug')
    })
  })
})
