// What the contract's parts share: how a driver's test hands over a store (and a second connection to
// its database), and the session records they create.
import type { NewSession, Store } from '../../../src/store/contract.js'

/** A store, and a way to write its database as another program would (the FastAPI app, an operator). */
export interface StoreWithSql {
  store: Store
  /** Runs SQL text, without parameters, on another connection to the same database. */
  sql: (text: string) => Promise<void>
}

export const HOUR = 3_600_000

export function newSession(
  userId: number,
  id: string,
  refreshTokenHash: string,
  createdAt = Date.now(),
): NewSession {
  return {
    id,
    userId,
    scope: ['me', 'items'],
    createdAt,
    expiresAt: createdAt + 24 * HOUR,
    userAgent: 'agent',
    ip: '127.0.0.1',
    refreshTokenHash,
  }
}
