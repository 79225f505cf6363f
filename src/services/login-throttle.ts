// Brute-force protection for the password grant (RFC 6749 §4.3.2, OWASP ASVS V2.2). Each attempt is
// counted *before* its password is checked, under three keys: the (username, client address) pair,
// the client address over all usernames, and the username from addresses it never logged in from.
// An IPv6 client counts by its /64 (THROTTLE_IPV6_PREFIX), an IPv4-mapped one as its IPv4 address.
// Usernames are counted whether or not they exist, so throttling reveals nothing. Past a limit,
// attempts are refused without a password check, for a time that doubles with each further refusal
// (exponential backoff) until a quiet window passes. An attempt refused by one counter costs nothing
// on the others, and one address can never fill the username counter alone (see `userShare`), so
// no single address can lock a user out of an address that has not failed.
import { createHmac } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import type { Logger } from 'pino'
import { Throttled, ThrottleUnavailable } from '../errors.js'
import type { ThrottleState, ThrottleStore } from '../store/index.js'

export interface ThrottlePolicy {
  /** Failures allowed for one username from one client address within the window. */
  pairLimit: number
  /** Failures allowed for one username from addresses that never logged in as it (at least 3). */
  userLimit: number
  /** Failures allowed from one client address over all usernames. */
  ipLimit: number
  /** Accounts one client address may try to register within the window (REGISTRATION=open). */
  registrationLimit?: number
  /** An IPv6 client counts as its prefix of this many bits (default 64: one site's subnet). */
  ipv6PrefixLength?: number
  windowMs: number
  /** First refusal period; each further one doubles, up to `maxBlockMs`. */
  baseBlockMs: number
  maxBlockMs: number
}

export interface Reservation {
  /** The password was right: clear the pair, give back the shared counters, remember the IP. */
  succeeded(): Promise<void>
  /** No password was checked after all (e.g. the server was overloaded): give the attempt back. */
  cancelled(): Promise<void>
}

export interface LoginThrottle {
  /**
   * Counts an attempt; throws Throttled (with the wait) when a limit is reached. `username` as typed
   * (counted by its NFKC, lower-case form), `ip` the client's address.
   */
  reserve(username: string, ip: string): Promise<Reservation>
  /** Counts a registration attempt from `ip`, successful or not; throws Throttled past the limit. */
  registration(ip: string): Promise<void>
  /**
   * Counts a request for a recovery mail (password reset) from `ip` for `identifier` (an address or a
   * username as typed, whether or not it exists), like logins; throws Throttled past either limit.
   */
  recovery(identifier: string, ip: string): Promise<void>
  /**
   * Counts a second-factor attempt (a TOTP or recovery code) of the user, and against `challenge`
   * (the mfa_token's hash) when there is one; throws Throttled past either limit. `succeeded()`
   * forgets both counters; a wrong code leaves them charged.
   */
  secondFactor(userId: number, challenge?: string): Promise<Reservation>
}

/** Wrong codes allowed per mfa_token, and per user over all their mfa_tokens and enrolments. */
export const SECOND_FACTOR_LIMITS = { challenge: 5, user: 10 } as const

/** A successful login marks its IP as known for the username this long. */
const KNOWN_PAIR_MS = 30 * 86_400_000

export interface LoginThrottleOptions {
  store: ThrottleStore
  policy: ThrottlePolicy
  /** Keys the counter names, so that they are not readable usernames. */
  secret: string
  /**
   * When the counters cannot be reached (Redis down): 'closed' refuses logins (503), 'open' lets them
   * through unthrottled with a logged warning.
   */
  failureMode: 'open' | 'closed'
  log: Pick<Logger, 'warn'>
}

const NO_RESERVATION: Reservation = { succeeded: async () => {}, cancelled: async () => {} }

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { store, policy, secret, failureMode, log } = options
  // Keys are MACs: a password typed into the username field is not stored readable.
  const key = (...parts: string[]): string =>
    createHmac('sha256', secret).update(parts.join('\0')).digest('base64url')

  // One address's failures count against the username only while they are among the first
  // `userShare` of its pair window, so that one address alone stays below the username limit even
  // when its windows straddle one of the username's (two windows: 2 * userShare < userLimit).
  const userShare = Math.max(1, Math.min(policy.pairLimit, Math.floor((policy.userLimit - 1) / 2)))
  const prefixLength = policy.ipv6PrefixLength ?? 64

  /** Charges one attempt; the wait when refused (0: allowed), and whether it is a first failure. */
  const take = (name: string, limit: number): Promise<{ wait: number; early: boolean }> =>
    store.updateThrottle(name, (state) => {
      const { next, refusedForMs } = countAttempt(state, Date.now(), limit, policy)
      const early = next.strikes === 0 && next.count <= userShare
      return { state: next, result: { wait: refusedForMs, early } }
    })

  /** The wait an attempt would get, without charging it. */
  const peek = (name: string, limit: number): Promise<number> =>
    store.updateThrottle(name, (state) => ({
      state: state ?? null,
      result: countAttempt(state, Date.now(), limit, policy).refusedForMs,
    }))

  const giveBack = (name: string): Promise<void> =>
    store.updateThrottle(name, (state) => ({
      state: state && state.count > 0 ? { ...state, count: state.count - 1 } : (state ?? null),
      result: undefined,
    }))
  const giveBackAll = async (names: string[]): Promise<void> => {
    for (const name of names) await giveBack(name)
  }

  const reserve = async (username: string, ip: string): Promise<Reservation> => {
    const user = username.normalize('NFKC').toLowerCase()
    const address = throttleAddress(ip, prefixLength)
    const pairKey = key('pair', user, address)
    const userKey = key('user', user)
    const ipKey = key('ip', address)
    const knownKey = key('known', user, address)
    const known = await store.updateThrottle(knownKey, (state) => ({
      state: state ?? null,
      result: state !== undefined,
    }))

    // In order, stopping at the first refusal and giving back what was taken: a refused attempt
    // costs nothing on another counter (else one address could spend the username's budget).
    const pair = await take(pairKey, policy.pairLimit)
    if (pair.wait > 0) throw throttled(pair.wait)
    const taken = [pairKey]
    const ipWait = (await take(ipKey, policy.ipLimit)).wait
    if (ipWait > 0) {
      await giveBackAll(taken)
      throw throttled(ipWait)
    }
    taken.push(ipKey)
    if (!known) {
      // Past its share, an address is still refused while the username is, but charges it nothing.
      const userWait = pair.early
        ? (await take(userKey, policy.userLimit)).wait
        : await peek(userKey, policy.userLimit)
      if (userWait > 0) {
        await giveBackAll(taken)
        throw throttled(userWait)
      }
      if (pair.early) taken.push(userKey)
    }

    const shared = taken.filter((name) => name !== pairKey)
    return {
      async succeeded() {
        const at = Date.now()
        await store.updateThrottle(pairKey, () => ({ state: null, result: undefined }))
        await store.updateThrottle(knownKey, () => ({
          state: {
            count: 0,
            windowStart: at,
            blockedUntil: 0,
            strikes: 0,
            expiresAt: at + KNOWN_PAIR_MS,
          },
          result: undefined,
        }))
        await giveBackAll(shared)
      },
      async cancelled() {
        await giveBackAll(taken)
      },
    }
  }

  const secondFactor = async (userId: number, challenge?: string): Promise<Reservation> => {
    const counters: Array<[string, number]> = [
      [key('mfa-user', String(userId)), SECOND_FACTOR_LIMITS.user],
    ]
    if (challenge !== undefined)
      counters.unshift([key('mfa-token', challenge), SECOND_FACTOR_LIMITS.challenge])
    const taken: string[] = []
    for (const [name, limit] of counters) {
      const { wait } = await take(name, limit)
      if (wait > 0) {
        await giveBackAll(taken)
        throw throttled(wait)
      }
      taken.push(name)
    }
    return {
      async succeeded() {
        for (const name of taken)
          await store.updateThrottle(name, () => ({ state: null, result: undefined }))
      },
      cancelled: () => giveBackAll(taken),
    }
  }

  /** REDIS_FAILURE_MODE=open lets attempts through while the counters are unreachable. */
  const orOpen = async <T>(attempt: () => Promise<T>, open: T): Promise<T> => {
    try {
      return await attempt()
    } catch (error) {
      if (!(error instanceof ThrottleUnavailable) || failureMode === 'closed') throw error
      log.warn(
        { err: error },
        'login throttling is unavailable; letting the attempt through (REDIS_FAILURE_MODE=open)',
      )
      return open
    }
  }

  return {
    reserve: (username, ip) => orOpen(() => reserve(username, ip), NO_RESERVATION),
    registration: (ip) =>
      orOpen(async () => {
        const address = throttleAddress(ip, prefixLength)
        const { wait } = await take(key('register', address), policy.registrationLimit ?? 10)
        if (wait > 0) throw throttled(wait)
      }, undefined),
    recovery: (identifier, ip) =>
      orOpen(async () => {
        const address = throttleAddress(ip, prefixLength)
        const ipKey = key('recover-ip', address)
        const ipWait = (await take(ipKey, policy.registrationLimit ?? 10)).wait
        if (ipWait > 0) throw throttled(ipWait)
        // A mailbox gets a few mails per window at most, whoever asks for them.
        const account = identifier.normalize('NFKC').toLowerCase()
        const accountWait = (await take(key('recover', account), policy.pairLimit)).wait
        if (accountWait > 0) {
          await giveBack(ipKey)
          throw throttled(accountWait)
        }
      }, undefined),
    secondFactor: (userId, challenge) =>
      orOpen(() => secondFactor(userId, challenge), NO_RESERVATION),
  }
}

const throttled = (waitMs: number): Throttled => new Throttled(Math.ceil(waitMs / 1000))

/**
 * The address an attempt is counted under: an IPv4 address as it is (also when IPv4-mapped,
 * ::ffff:a.b.c.d), an IPv6 address as its first `prefixLength` bits (e.g. 2001:db8:1:2::/64), since
 * one client commonly holds a whole /64. Anything else (not an IP address) is counted as it is.
 */
export function throttleAddress(ip: string, prefixLength: number): string {
  if (isIPv4(ip)) return ip
  const groups = parseIPv6(ip)
  if (!groups) return ip
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6)
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
  }
  const masked = groups.map((group, index) => {
    const bits = Math.min(16, Math.max(0, prefixLength - index * 16))
    return bits === 0 ? 0 : group & (0xffff << (16 - bits)) & 0xffff
  })
  return `${masked.map((group) => group.toString(16)).join(':')}/${prefixLength}`
}

/** The eight 16-bit groups of an IPv6 address (zone index dropped), or undefined. */
function parseIPv6(text: string): number[] | undefined {
  const address = text.split('%')[0] ?? ''
  if (!isIPv6(address)) return undefined
  let tail: number[] = []
  let head = address
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (dotted) {
    const bytes = (dotted[2] ?? '').split('.').map(Number)
    const [a = 0, b = 0, c = 0, d = 0] = bytes
    tail = [(a << 8) | b, (c << 8) | d]
    head = dotted[1]!.endsWith('::') ? dotted[1]! : dotted[1]!.slice(0, -1)
  }
  const toGroups = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => parseInt(group, 16))
  const [before = '', after] = head.split('::')
  const left = toGroups(before)
  const right = [...toGroups(after ?? ''), ...tail]
  const missing = 8 - left.length - right.length
  if (after === undefined ? missing !== 0 : missing < 0) return undefined
  return [...left, ...Array<number>(missing).fill(0), ...right]
}

/**
 * One attempt against one counter: the next state, and how long the attempt is refused for (0: allowed).
 * Pure, so that every store runs the same rule inside its own atomic update.
 */
export function countAttempt(
  state: ThrottleState | undefined,
  now: number,
  limit: number,
  policy: Pick<ThrottlePolicy, 'windowMs' | 'baseBlockMs' | 'maxBlockMs'>,
): { next: ThrottleState; refusedForMs: number } {
  if (state && state.blockedUntil > now)
    return { next: state, refusedForMs: state.blockedUntil - now }
  const fresh = !state || now - state.windowStart >= policy.windowMs
  const current = fresh
    ? { count: 0, windowStart: now, blockedUntil: 0, strikes: 0, expiresAt: 0 }
    : state
  const count = current.count + 1
  if (count <= limit) {
    return {
      next: { ...current, count, expiresAt: current.windowStart + policy.windowMs },
      refusedForMs: 0,
    }
  }
  const blockMs = Math.min(policy.baseBlockMs * 2 ** current.strikes, policy.maxBlockMs)
  const blockedUntil = now + blockMs
  return {
    // After the wait one more attempt is allowed, and the window restarts then: only a quiet window forgets.
    next: {
      count: limit - 1,
      windowStart: blockedUntil,
      blockedUntil,
      strikes: current.strikes + 1,
      expiresAt: blockedUntil + policy.windowMs,
    },
    refusedForMs: blockMs,
  }
}
