// The one-time-token and outbox rows, their mapping to the contract's records, and the columns an
// outbox outcome sets.
import type { OneTimeTokenRecord, OutboxMessage, OutboxOutcome } from '../contract.js'

export interface OneTimeTokenRow {
  token_hash: string
  purpose: string
  user_id: number
  binding: string
  created_at: number
  expires_at: number
  used_at: number | null
}

export function toOneTimeToken(row: OneTimeTokenRow): OneTimeTokenRecord {
  return {
    tokenHash: row.token_hash,
    purpose: row.purpose === 'reset' ? 'reset' : 'verify',
    userId: row.user_id,
    binding: row.binding,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  }
}

export interface OutboxRow {
  id: number
  kind: string
  payload: string | null
  attempts: number
}

/** The claim's new attempts count is returned: the message's attempts before this one are one less. */
export const toOutboxMessage = (row: OutboxRow): OutboxMessage => ({
  id: Number(row.id),
  kind: row.kind,
  payload: row.payload,
  attempts: row.attempts - 1,
})

/** Columns an outcome sets: sent_at, next_attempt_at, failed_at, last_error, and whether to erase the payload. */
export function outboxOutcomeColumns(outcome: OutboxOutcome) {
  if ('sentAt' in outcome)
    return { sentAt: outcome.sentAt, retryAt: null, failedAt: null, error: null, erase: 1 }
  if ('retryAt' in outcome)
    return {
      sentAt: null,
      retryAt: outcome.retryAt,
      failedAt: null,
      error: outcome.error,
      erase: 0,
    }
  return { sentAt: null, retryAt: null, failedAt: outcome.failedAt, error: outcome.error, erase: 1 }
}
