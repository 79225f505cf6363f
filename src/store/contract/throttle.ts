// The throttle part of the contract: login counters read, decided on and written back atomically
// (Redis implements it too: redis/throttle.ts).

/** One throttling counter (see services/throttle/login-throttle.ts). Times are epoch milliseconds. */
export interface ThrottleState {
  count: number
  windowStart: number
  blockedUntil: number
  strikes: number
  /** When the row may be forgotten. */
  expiresAt: number
}

export interface ThrottleStore {
  /**
   * Reads the counters `keys` (distinct; an absent or expired one reads as undefined), lets `update`
   * decide their next states (in the same order; null: forget it) and a result, and stores them,
   * atomically across processes. `update` may run more than once (a store retries on contention):
   * keep it pure. Returns the result.
   */
  updateThrottles<T>(keys: readonly string[], update: ThrottleUpdate<T>): Promise<T>
  /**
   * Reads the counters `keys` without locking or writing anything (an absent or expired one reads as
   * undefined): a look that tells whether an update would change anything at all.
   */
  readThrottles(keys: readonly string[]): Promise<(ThrottleState | undefined)[]>
}

export type ThrottleUpdate<T> = (states: (ThrottleState | undefined)[]) => {
  states: (ThrottleState | null)[]
  result: T
}
