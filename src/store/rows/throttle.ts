// The throttle-counter row and its mapping to ThrottleState.
import type { ThrottleState } from '../contract.js'

export interface ThrottleRow {
  count: number
  window_start: number
  blocked_until: number
  strikes: number
  expires_at: number
}

export function toThrottleState(row: ThrottleRow): ThrottleState {
  return {
    count: row.count,
    windowStart: row.window_start,
    blockedUntil: row.blocked_until,
    strikes: row.strikes,
    expiresAt: row.expires_at,
  }
}
