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
import { Throttled, ThrottleUnavailable } from '../../errors.js'
import type { ThrottleState, ThrottleStore } from '../../store/contract.js'

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
  /**
   * An attempt whose credential was checked before counting, and was right: a random secret far too
   * long to guess, whose check costs nothing (a client secret), so there is no password to guess in
   * parallel. The same outcome as `reserve` then `succeeded()` (Throttled while a counter refuses),
   * but written only when that changes something: failures of the pair to forget, the address not yet
   * (or not for a day) marked as known. Otherwise it only reads the counters.
   */
  admitProven(username: string, ip: string): Promise<void>
  /** Counts a registration attempt from `ip`, successful or not; throws Throttled past the limit. */
  registration(ip: string): Promise<void>
  /**
   * Counts a request for a recovery mail (password reset) from `ip` for `identifier` (an address or a
   * username as typed, whether or not it exists) by logins' per-address rule (the pair, the address,
   * the account's shared counter charged with each address's share only); throws Throttled
   * ("Too many requests") past a limit.
   */
  recovery(identifier: string, ip: string): Promise<void>
  /**
   * Counts a second-factor attempt (a TOTP or recovery code) of the user, and against `challenge`
   * (the mfa_token's hash) when there is one; throws Throttled past either limit. `succeeded()`
   * forgets both counters; a wrong code leaves them charged.
   */
  secondFactor(userId: number, challenge?: string): Promise<Reservation>
  /**
   * Counts a code confirming the user's pending TOTP enrolment, on a counter of its own (never the
   * one logins' second step uses); `succeeded()` forgets it.
   */
  enrolment(userId: number): Promise<Reservation>
  /**
   * Counts a change the user makes to their own account (profile, address), successful or not;
   * throws Throttled ("Too many requests") past SELF_SERVICE_LIMIT per window.
   */
  selfService(userId: number): Promise<void>
}

/** Changes to their own account one user may make per throttle window. */
export const SELF_SERVICE_LIMIT = 10

/** Wrong codes allowed per mfa_token (and per pending enrolment), and per user over all their mfa_tokens. */
export const SECOND_FACTOR_LIMITS = { challenge: 5, user: 10 } as const

/** A successful login marks its IP as known for the username this long. */
const KNOWN_PAIR_MS = 30 * 86_400_000
/** A proven attempt renews its address's known mark once it is this old (not on every request). */
const KNOWN_PAIR_RENEW_MS = 86_400_000

export interface LoginThrottleOptions {
  store: ThrottleStore
  policy: ThrottlePolicy
  /** Keys the counter names, so that they are not readable usernames (derived from SEALING_KEY). */
  secret: string | Buffer
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

  /** One atomic update of `keys`, decided by `decide` on a ledger of their states. */
  const withCounters = <T>(keys: string[], decide: (ledger: Ledger) => T): Promise<T> =>
    store.updateThrottles(keys, (states) => {
      const ledger = createLedger(keys, states, Date.now(), policy)
      const result = decide(ledger)
      return { states: ledger.states(), result }
    })

  /** Charges `counters` in order, in one update (see Ledger.take); throws Throttled on a refusal. */
  const chargeInOrder = async (counters: Array<[string, number]>): Promise<string[]> => {
    const { wait, charged } = await withCounters(
      counters.map(([name]) => name),
      (ledger) => {
        for (const [name, limit] of counters) {
          const refusedFor = ledger.take(name, limit)
          if (refusedFor > 0) return { wait: refusedFor, charged: [] }
        }
        return { wait: 0, charged: ledger.charged() }
      },
    )
    if (wait > 0) throw throttled(wait)
    return charged
  }
  const giveBackAll = (names: string[]): Promise<void> =>
    withCounters(names, (ledger) => names.forEach((name) => ledger.giveBack(name)))
  const forgetAll = (names: string[]): Promise<void> =>
    withCounters(names, (ledger) => names.forEach((name) => ledger.set(name, null)))

  /** The counters of one attempt: the pair, the address, the username, and the address's known mark. */
  const attemptKeys = (username: string, ip: string) => {
    const user = username.normalize('NFKC').toLowerCase()
    const address = throttleAddress(ip, prefixLength)
    return {
      pairKey: key('pair', user, address),
      ipKey: key('ip', address),
      userKey: key('user', user),
      knownKey: key('known', user, address),
    }
  }

  /**
   * Charges one attempt on the ledger, in order, stopping at the first refusal and giving back what
   * was taken: a refused attempt costs nothing on another counter (else one address could spend the
   * username's budget).
   */
  const chargeAttempt = (
    { pairKey, ipKey, userKey, knownKey }: ReturnType<typeof attemptKeys>,
    ledger: Ledger,
  ): { wait: number; charged: string[] } => {
    const refused = (refusedFor: number) => ({ wait: refusedFor, charged: [] })
    const known = ledger.state(knownKey) !== undefined
    const pairWait = ledger.take(pairKey, policy.pairLimit)
    if (pairWait > 0) return refused(pairWait)
    const pair = ledger.state(pairKey)!
    const early = pair.strikes === 0 && pair.count <= userShare
    const ipWait = ledger.take(ipKey, policy.ipLimit)
    if (ipWait > 0) return refused(ipWait)
    if (!known) {
      // Past its share, an address is still refused while the username is, but charges it nothing.
      const userWait = early
        ? ledger.take(userKey, policy.userLimit)
        : ledger.peek(userKey, policy.userLimit)
      if (userWait > 0) return refused(userWait)
    }
    return { wait: 0, charged: ledger.charged() }
  }

  const reserve = async (username: string, ip: string): Promise<Reservation> => {
    const keys = attemptKeys(username, ip)
    const { pairKey, ipKey, userKey, knownKey } = keys
    const { wait, charged } = await withCounters([pairKey, ipKey, userKey, knownKey], (ledger) =>
      chargeAttempt(keys, ledger),
    )
    if (wait > 0) throw throttled(wait)

    const shared = charged.filter((name) => name !== pairKey)
    return {
      async succeeded() {
        const at = Date.now()
        await withCounters([pairKey, knownKey, ...shared], (ledger) => {
          ledger.set(pairKey, null)
          ledger.set(knownKey, {
            count: 0,
            windowStart: at,
            blockedUntil: 0,
            strikes: 0,
            expiresAt: at + KNOWN_PAIR_MS,
          })
          for (const name of shared) ledger.giveBack(name)
        })
      },
      cancelled: () => giveBackAll(charged),
    }
  }

  const admitProven = async (username: string, ip: string): Promise<void> => {
    const keys = attemptKeys(username, ip)
    const { pairKey, ipKey, userKey, knownKey } = keys
    const names = [pairKey, ipKey, userKey, knownKey]
    const now = Date.now()
    // A look first: what reserve would decide on the counters as they are, without writing them.
    const ledger = createLedger(names, await store.readThrottles(names), now, policy)
    const known = ledger.state(knownKey)
    const nothingToWrite =
      ledger.state(pairKey) === undefined &&
      known !== undefined &&
      known.expiresAt - now > KNOWN_PAIR_MS - KNOWN_PAIR_RENEW_MS &&
      chargeAttempt(keys, ledger).wait === 0
    if (nothingToWrite) return
    // Failures to forget, a refusal, or the address to mark as known: the full update, as a login's.
    const reservation = await reserve(username, ip)
    await reservation.succeeded()
  }

  const secondFactor = async (userId: number, challenge?: string): Promise<Reservation> => {
    const counters: Array<[string, number]> = [
      [key('mfa-user', String(userId)), SECOND_FACTOR_LIMITS.user],
    ]
    if (challenge !== undefined)
      counters.unshift([key('mfa-token', challenge), SECOND_FACTOR_LIMITS.challenge])
    const charged = await chargeInOrder(counters)
    return { succeeded: () => forgetAll(charged), cancelled: () => giveBackAll(charged) }
  }

  // Logins' per-address rule: an address has its own budget for the account (the pair), and charges
  // the account's shared counter only with its early share, so that no single address can stop an
  // account's links for everyone. A mailbox still gets a bounded number of mails per window.
  const recovery = async (identifier: string, ip: string): Promise<void> => {
    const account = identifier.normalize('NFKC').toLowerCase()
    const address = throttleAddress(ip, prefixLength)
    const pairKey = key('recover-pair', account, address)
    const ipKey = key('recover-ip', address)
    const accountKey = key('recover', account)
    const wait = await withCounters([pairKey, ipKey, accountKey], (ledger) => {
      const pairWait = ledger.take(pairKey, policy.pairLimit)
      if (pairWait > 0) return pairWait
      const pair = ledger.state(pairKey)!
      const early = pair.strikes === 0 && pair.count <= userShare
      const ipWait = ledger.take(ipKey, policy.registrationLimit ?? 10)
      if (ipWait > 0) return ipWait
      return early
        ? ledger.take(accountKey, policy.userLimit)
        : ledger.peek(accountKey, policy.userLimit)
    })
    if (wait > 0) throw new Throttled(Math.ceil(wait / 1000), 'Too many requests; try again later')
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
    admitProven: (username, ip) => orOpen(() => admitProven(username, ip), undefined),
    registration: (ip) =>
      orOpen(async () => {
        const address = throttleAddress(ip, prefixLength)
        await chargeInOrder([[key('register', address), policy.registrationLimit ?? 10]])
      }, undefined),
    recovery: (identifier, ip) => orOpen(() => recovery(identifier, ip), undefined),
    secondFactor: (userId, challenge) =>
      orOpen(() => secondFactor(userId, challenge), NO_RESERVATION),
    selfService: (userId) =>
      orOpen(async () => {
        try {
          await chargeInOrder([[key('self-service', String(userId)), SELF_SERVICE_LIMIT]])
        } catch (error) {
          if (!(error instanceof Throttled)) throw error
          throw new Throttled(error.retryAfterSeconds, 'Too many requests; try again later')
        }
      }, undefined),
    enrolment: (userId) =>
      orOpen(async () => {
        const charged = await chargeInOrder([
          [key('mfa-enrol', String(userId)), SECOND_FACTOR_LIMITS.challenge],
        ])
        return { succeeded: () => forgetAll(charged), cancelled: () => giveBackAll(charged) }
      }, NO_RESERVATION),
  }
}

const throttled = (waitMs: number): Throttled => new Throttled(Math.ceil(waitMs / 1000))

/** The counters of one atomic update, as an update decides their next states. */
interface Ledger {
  state(name: string): ThrottleState | undefined
  set(name: string, state: ThrottleState | null): void
  /**
   * Charges one attempt: 0 when allowed, else how long it is refused for. A refused counter keeps its
   * refusal and the counters charged before it in this update are given back (a refused attempt
   * costs nothing on another counter).
   */
  take(name: string, limit: number): number
  /** How long an attempt would be refused for, without charging it; a refusal gives back as take's. */
  peek(name: string, limit: number): number
  /** One attempt fewer on the counter (an attempt that turned out not to count). */
  giveBack(name: string): void
  /** The counters take charged in this update, in order. */
  charged(): string[]
  /** The next states, in the order of the keys. */
  states(): (ThrottleState | null)[]
}

function createLedger(
  keys: readonly string[],
  read: (ThrottleState | undefined)[],
  now: number,
  policy: Pick<ThrottlePolicy, 'windowMs' | 'baseBlockMs' | 'maxBlockMs'>,
): Ledger {
  const next = new Map<string, ThrottleState | null>(
    keys.map((name, index) => [name, read[index] ?? null]),
  )
  let charged: string[] = []
  const ledger: Ledger = {
    state: (name) => next.get(name) ?? undefined,
    set(name, state) {
      next.set(name, state)
    },
    take(name, limit) {
      const { next: state, refusedForMs } = countAttempt(ledger.state(name), now, limit, policy)
      next.set(name, state)
      if (refusedForMs > 0) {
        for (const taken of charged) ledger.giveBack(taken)
        charged = []
      } else charged.push(name)
      return refusedForMs
    },
    peek(name, limit) {
      const { refusedForMs } = countAttempt(ledger.state(name), now, limit, policy)
      if (refusedForMs > 0) {
        for (const taken of charged) ledger.giveBack(taken)
        charged = []
      }
      return refusedForMs
    },
    giveBack(name) {
      const state = ledger.state(name)
      if (state && state.count > 0) next.set(name, { ...state, count: state.count - 1 })
    },
    charged: () => [...charged],
    states: () => keys.map((name) => next.get(name) ?? null),
  }
  return ledger
}

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
