// Brute-force protection on POST /token: limits, backoff, race-freedom, trusted proxies, overload.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { countAttempt } from '../../src/services/throttle/login-throttle.js'
import { build, tokenRequest, type TestApp } from '../helper.js'

const attempt = (
  t: TestApp,
  username: string,
  password: string,
  remoteAddress = '203.0.113.7',
  headers: Record<string, string> = {},
) =>
  t.app.inject({
    ...tokenRequest({ username, password }),
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  })

async function withAlice(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await build({ env })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  return t
}

/** Counts every password verification, real or dummy. */
function countChecks(t: TestApp): () => number {
  let checks = 0
  const verify = t.hasher.verify.bind(t.hasher)
  const verifyDummy = t.hasher.verifyDummy.bind(t.hasher)
  t.hasher.verify = (password, hash) => ((checks += 1), verify(password, hash))
  t.hasher.verifyDummy = (password) => ((checks += 1), verifyDummy(password))
  return () => checks
}

afterEach(() => {
  vi.useRealTimers()
})

describe('failed-login throttling', () => {
  it('refuses the pair after 5 failures with 429, Retry-After and an RFC 6749 style body, without checking the password', async () => {
    const t = await withAlice()
    const checks = countChecks(t)
    for (let i = 0; i < 5; i++) expect((await attempt(t, 'alice', 'wrong')).statusCode).toBe(401)
    expect(checks()).toBe(5)
    const refused = await attempt(t, 'alice', 'alice-password')
    expect(refused.statusCode).toBe(429)
    expect(Number(refused.headers['retry-after'])).toBe(60)
    expect(refused.json()).toMatchObject({
      error: 'slow_down',
      detail: expect.stringContaining('Too many') as unknown,
    })
    expect(checks()).toBe(5)
    // Another client of the same user is not affected.
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.1')).statusCode).toBe(200)
  })

  it('looks the same for existing and unknown usernames', async () => {
    const t = await withAlice()
    for (let i = 0; i < 5; i++) {
      await attempt(t, 'alice', 'wrong')
      await attempt(t, 'nobody', 'wrong')
    }
    const existing = await attempt(t, 'alice', 'wrong')
    const unknown = await attempt(t, 'nobody', 'wrong')
    expect(existing.statusCode).toBe(429)
    expect(unknown.statusCode).toBe(429)
    expect(existing.body).toBe(unknown.body)
    expect(existing.headers['retry-after']).toBe(unknown.headers['retry-after'])
  })

  it('resets the pair after a successful login', async () => {
    const t = await withAlice()
    for (let i = 0; i < 4; i++) await attempt(t, 'alice', 'wrong')
    expect((await attempt(t, 'alice', 'alice-password')).statusCode).toBe(200)
    for (let i = 0; i < 5; i++) expect((await attempt(t, 'alice', 'wrong')).statusCode).toBe(401)
    expect((await attempt(t, 'alice', 'wrong')).statusCode).toBe(429)
  })

  it('backs off exponentially: one attempt after each wait, each wait twice the last', async () => {
    const t = await withAlice()
    for (let i = 0; i < 5; i++) await attempt(t, 'alice', 'wrong')
    expect((await attempt(t, 'alice', 'wrong')).headers['retry-after']).toBe('60')
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 61_000)
    expect((await attempt(t, 'alice', 'wrong')).statusCode).toBe(401)
    expect((await attempt(t, 'alice', 'wrong')).headers['retry-after']).toBe('120')
    vi.setSystemTime(Date.now() + 121_000)
    expect((await attempt(t, 'alice', 'alice-password')).statusCode).toBe(200)
  })

  it('lets no more than the limit of 50 concurrent wrong passwords reach a password check', async () => {
    const t = await withAlice()
    const checks = countChecks(t)
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => attempt(t, 'alice', 'wrong')),
    )
    expect(checks()).toBe(5)
    expect(responses.filter((response) => response.statusCode === 401)).toHaveLength(5)
    expect(responses.filter((response) => response.statusCode === 429)).toHaveLength(45)
  })

  it('limits one IP across usernames', async () => {
    const t = await withAlice({ THROTTLE_IP_LIMIT: '3' })
    for (const username of ['a', 'b', 'c'])
      expect((await attempt(t, username, 'x')).statusCode).toBe(401)
    expect((await attempt(t, 'd', 'x')).statusCode).toBe(429)
    expect((await attempt(t, 'd', 'x', '198.51.100.1')).statusCode).toBe(401)
  })

  it('limits one username across IPs, but never locks the user out of an IP they logged in from', async () => {
    const t = await withAlice({ THROTTLE_USER_LIMIT: '3' })
    expect((await attempt(t, 'alice', 'alice-password', '192.0.2.1')).statusCode).toBe(200)
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3'])
      expect((await attempt(t, 'alice', 'wrong', ip)).statusCode).toBe(401)
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.4')).statusCode).toBe(429)
    expect((await attempt(t, 'alice', 'alice-password', '192.0.2.1')).statusCode).toBe(200)
  })

  it('charges nothing else for an attempt its pair refused: 60 failures from one address leave the user free elsewhere', async () => {
    const t = await build()
    await t.addUser({ username: 'dave', password: 'dave-password' })
    for (let i = 0; i < 60; i++) await attempt(t, 'dave', 'wrong', '203.0.113.66')
    expect((await attempt(t, 'dave', 'wrong', '203.0.113.66')).statusCode).toBe(429)
    expect((await attempt(t, 'dave', 'dave-password', '198.51.100.23')).statusCode).toBe(200)
  })

  it('charges nothing else for an attempt its address refused', async () => {
    const t = await withAlice({ THROTTLE_IP_LIMIT: '2', THROTTLE_USER_LIMIT: '3' })
    expect((await attempt(t, 'bob', 'x', '203.0.113.1')).statusCode).toBe(401)
    expect((await attempt(t, 'carol', 'x', '203.0.113.1')).statusCode).toBe(401)
    // Refused by the address's own limit: alice's username counter is not charged by these.
    for (let i = 0; i < 5; i++)
      expect((await attempt(t, 'alice', 'wrong', '203.0.113.1')).statusCode).toBe(429)
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.1')).statusCode).toBe(200)
  })

  it('lets no single address fill the username counter, so it cannot lock the user out of an address that never failed', async () => {
    // Each address counts against the username for at most (5 - 1) / 2 = 2 failures per window.
    const t = await withAlice({ THROTTLE_USER_LIMIT: '5' })
    for (let i = 0; i < 5; i++)
      expect((await attempt(t, 'alice', 'wrong', '203.0.113.1')).statusCode).toBe(401)
    expect((await attempt(t, 'alice', 'wrong', '203.0.113.1')).statusCode).toBe(429)
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.1')).statusCode).toBe(200)
  })

  it('still refuses new addresses once failures from several addresses fill the username counter', async () => {
    const t = await withAlice({ THROTTLE_USER_LIMIT: '5' })
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3'])
      for (let i = 0; i < 2; i++) await attempt(t, 'alice', 'wrong', ip)
    // The address that the username counter refused is not charged for it on its pair or address.
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.1')).statusCode).toBe(429)
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.2')).statusCode).toBe(429)
  })

  it('counts an IPv6 client by its /64: a new address in the same /64 gets no new budget', async () => {
    const t = await withAlice()
    for (let i = 1; i <= 5; i++)
      expect((await attempt(t, 'alice', 'wrong', `2001:db8:1:2::${i}`)).statusCode).toBe(401)
    expect((await attempt(t, 'alice', 'alice-password', '2001:db8:1:2:ffff::9')).statusCode).toBe(
      429,
    )
    expect((await attempt(t, 'alice', 'alice-password', '2001:db8:1:3::1')).statusCode).toBe(200)
  })

  it('counts IPv6 by THROTTLE_IPV6_PREFIX bits', async () => {
    const t = await withAlice({ THROTTLE_IPV6_PREFIX: '128' })
    for (let i = 1; i <= 5; i++) await attempt(t, 'alice', 'wrong', '2001:db8:1:2::1')
    expect((await attempt(t, 'alice', 'alice-password', '2001:db8:1:2::1')).statusCode).toBe(429)
    expect((await attempt(t, 'alice', 'alice-password', '2001:db8:1:2::2')).statusCode).toBe(200)
  })

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', async () => {
    const t = await withAlice()
    for (let i = 0; i < 3; i++) await attempt(t, 'alice', 'wrong', '::ffff:203.0.113.7')
    for (let i = 0; i < 2; i++) await attempt(t, 'alice', 'wrong', '203.0.113.7')
    expect((await attempt(t, 'alice', 'alice-password', '::ffff:203.0.113.7')).statusCode).toBe(429)
  })

  it('remembers a known IPv6 client by its /64', async () => {
    const t = await withAlice({ THROTTLE_USER_LIMIT: '3' })
    expect((await attempt(t, 'alice', 'alice-password', '2001:db8:5:6::1')).statusCode).toBe(200)
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3'])
      await attempt(t, 'alice', 'wrong', ip)
    expect((await attempt(t, 'alice', 'alice-password', '198.51.100.4')).statusCode).toBe(429)
    expect((await attempt(t, 'alice', 'alice-password', '2001:db8:5:6::77')).statusCode).toBe(200)
  })

  it('counts usernames by their NFKC form', async () => {
    const t = await withAlice()
    // Full-width letters fold to ASCII under NFKC: the same counter as 'alice'.
    for (let i = 0; i < 5; i++) await attempt(t, 'ａｌｉｃｅ', 'wrong')
    expect((await attempt(t, 'alice', 'alice-password')).statusCode).toBe(429)
  })

  it('ignores X-Forwarded-For from clients that are not trusted proxies', async () => {
    const t = await withAlice()
    for (let i = 0; i < 5; i++)
      await attempt(t, 'alice', 'wrong', '203.0.113.7', { 'x-forwarded-for': `10.0.0.${i}` })
    const spoofed = await attempt(t, 'alice', 'alice-password', '203.0.113.7', {
      'x-forwarded-for': '10.9.9.9',
    })
    expect(spoofed.statusCode).toBe(429)
  })

  it('uses X-Forwarded-For from a trusted proxy as the client address', async () => {
    const t = await withAlice({ TRUST_PROXY: '10.0.0.0/8' })
    for (let i = 0; i < 5; i++)
      await attempt(t, 'alice', 'wrong', '10.1.1.1', { 'x-forwarded-for': '203.0.113.50' })
    expect(
      (
        await attempt(t, 'alice', 'alice-password', '10.1.1.1', {
          'x-forwarded-for': '203.0.113.50',
        })
      ).statusCode,
    ).toBe(429)
    // Another client behind the same proxy is a different pair.
    expect(
      (
        await attempt(t, 'alice', 'alice-password', '10.1.1.1', {
          'x-forwarded-for': '203.0.113.51',
        })
      ).statusCode,
    ).toBe(200)
  })

  it('keeps counting across restarts and processes sharing the database', async () => {
    const t = await withAlice()
    for (let i = 0; i < 5; i++) await attempt(t, 'alice', 'wrong')
    const restarted = await build({ dir: t.dir })
    expect((await attempt(restarted, 'alice', 'alice-password')).statusCode).toBe(429)
  })

  it('refuses a malformed TRUST_PROXY at start', async () => {
    await expect(build({ env: { TRUST_PROXY: '10.0.0.0/99' } })).rejects.toThrow(/TRUST_PROXY/)
  })

  it('refuses an IPv6 prefix outside 1-128 and a username limit under 3 at start', async () => {
    for (const prefix of ['0', '129', '64.5'])
      await expect(build({ env: { THROTTLE_IPV6_PREFIX: prefix } })).rejects.toThrow(
        /THROTTLE_IPV6_PREFIX/,
      )
    await expect(build({ env: { THROTTLE_USER_LIMIT: '2' } })).rejects.toThrow(
      /THROTTLE_USER_LIMIT/,
    )
  })
})

describe('overload', () => {
  it('answers 503 with Retry-After at once when the hashing queue is full, and does not count it as a failure', async () => {
    const t = await withAlice({
      HASH_CONCURRENCY: '1',
      HASH_QUEUE_MAX: '1',
      THROTTLE_PAIR_LIMIT: '100',
    })
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => attempt(t, `user-${i}`, 'wrong')),
    )
    const shed = responses.filter((response) => response.statusCode === 503)
    expect(shed.length).toBeGreaterThanOrEqual(5)
    expect(shed[0]!.headers['retry-after']).toBe('1')
    expect(shed[0]!.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(
      responses.filter((response) => response.statusCode === 401).length,
    ).toBeGreaterThanOrEqual(1)
  })
})

describe('the backoff rule', () => {
  const policy = { windowMs: 900_000, baseBlockMs: 60_000, maxBlockMs: 3_600_000 }

  it('allows `limit` attempts in a window, then refuses for a doubling time up to the maximum', () => {
    let state = undefined as ReturnType<typeof countAttempt>['next'] | undefined
    let now = 0
    for (let i = 0; i < 5; i++) {
      const step = countAttempt(state, now, 5, policy)
      expect(step.refusedForMs).toBe(0)
      state = step.next
    }
    const waits: number[] = []
    for (let i = 0; i < 8; i++) {
      const refused = countAttempt(state, now, 5, policy)
      waits.push(refused.refusedForMs)
      now = refused.next.blockedUntil
      const allowed = countAttempt(refused.next, now, 5, policy)
      expect(allowed.refusedForMs).toBe(0)
      state = allowed.next
    }
    expect(waits).toEqual([
      60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000,
    ])
  })

  it('forgets everything after a quiet window', () => {
    const blocked = countAttempt(
      { count: 5, windowStart: 0, blockedUntil: 0, strikes: 3, expiresAt: 900_000 },
      1_000,
      5,
      policy,
    )
    expect(blocked.refusedForMs).toBe(480_000)
    const later = countAttempt(blocked.next, blocked.next.blockedUntil + 900_000, 5, policy)
    expect(later).toMatchObject({ refusedForMs: 0, next: { count: 1, strikes: 0 } })
  })
})
