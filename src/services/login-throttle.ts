// Brute-force protection for the password grant (RFC 6749 §4.3.2, OWASP ASVS V2.2). Each attempt is
// counted *before* its password is checked, under three keys: the (username, client IP) pair, the
// username from any IP, and the IP for any username. Usernames are counted whether or not they
// exist, so throttling reveals nothing. Past a limit, attempts are refused without a password check,
// for a time that doubles with each further refusal (exponential backoff) until a quiet window passes.
// A user's own known IPs (a past success) are exempt from the per-username limit, so an attacker
// spreading guesses over many IPs cannot lock the user out everywhere.
import { createHmac } from 'node:crypto'
import type { Logger } from 'pino'
import { Throttled, ThrottleUnavailable } from '../errors.js'
import type { ThrottleState, ThrottleStore } from '../store/index.js'

export interface ThrottlePolicy {
  /** Failures allowed for one username from one IP within the window. */
  pairLimit: number
  /** Failures allowed for one username from IPs that never logged in as it. */
  userLimit: number
  /** Failures allowed from one IP over all usernames. */
  ipLimit: number
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
  /** Counts an attempt; throws Throttled (with the wait) when a limit is reached. */
  reserve(username: string, ip: string): Promise<Reservation>
}

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

  const take = (name: string, limit: number): Promise<number> =>
    store.updateThrottle(name, (state) => {
      const { next, refusedForMs } = countAttempt(state, Date.now(), limit, policy)
      return { state: next, result: refusedForMs }
    })

  const giveBack = (name: string): Promise<void> =>
    store.updateThrottle(name, (state) => ({
      state: state && state.count > 0 ? { ...state, count: state.count - 1 } : (state ?? null),
      result: undefined,
    }))

  const reserve = async (username: string, ip: string): Promise<Reservation> => {
    const pairKey = key('pair', username, ip)
    const userKey = key('user', username)
    const ipKey = key('ip', ip)
    const knownKey = key('known', username, ip)
    const known = await store.updateThrottle(knownKey, (state) => ({
      state: state ?? null,
      result: state !== undefined,
    }))

    const counters: Array<[string, number]> = [
      [ipKey, policy.ipLimit],
      [pairKey, policy.pairLimit],
    ]
    if (!known) counters.push([userKey, policy.userLimit])
    const taken: string[] = []
    const waits: number[] = []
    for (const [name, limit] of counters) {
      const wait = await take(name, limit)
      if (wait > 0) waits.push(wait)
      else taken.push(name)
    }
    if (waits.length > 0) throw new Throttled(Math.ceil(Math.max(...waits) / 1000))

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
        for (const name of shared) await giveBack(name)
      },
      async cancelled() {
        for (const name of taken) await giveBack(name)
      },
    }
  }

  return {
    async reserve(username, ip) {
      try {
        return await reserve(username, ip)
      } catch (error) {
        if (!(error instanceof ThrottleUnavailable) || failureMode === 'closed') throw error
        log.warn(
          { err: error },
          'login throttling is unavailable; letting the attempt through (REDIS_FAILURE_MODE=open)',
        )
        return NO_RESERVATION
      }
    },
  }
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
