// The mail part of the contract: address verification, one-time tokens (reset, verify) and the
// outbox the mail service sends from.
import type { UserRecord } from './users.js'

export type OneTimePurpose = 'reset' | 'verify'

/** A password reset or e-mail verification token, stored as its hash. Times are epoch milliseconds. */
export interface OneTimeTokenRecord {
  tokenHash: string
  purpose: OneTimePurpose
  userId: number
  /** What the token was issued against (e.g. the credentials, the address): a change voids it. */
  binding: string
  createdAt: number
  expiresAt: number
  usedAt: number | null
}

/** A message of the outbox, claimed for one sending attempt. */
export interface OutboxMessage {
  id: number
  kind: string
  /** The message as the mail service wrote it (encrypted); null once sent or given up. */
  payload: string | null
  /** Attempts made before this one. */
  attempts: number
}

export type OutboxOutcome =
  { sentAt: number } | { retryAt: number; error: string } | { failedAt: number; error: string }

export interface MailStore {
  /** The user with this address, compared case-insensitively (an exact match first). */
  findUserByEmail(email: string): Promise<UserRecord | undefined>
  /** Marks the address verified, only while the user still has exactly `email`; false otherwise. */
  setEmailVerified(userId: number, email: string): Promise<boolean>
  createOneTimeToken(token: Omit<OneTimeTokenRecord, 'usedAt'>): Promise<void>
  findOneTimeToken(tokenHash: string): Promise<OneTimeTokenRecord | undefined>
  /** Marks the token used if it is unused and unexpired at `now`: true for exactly one caller. */
  useOneTimeToken(tokenHash: string, now: number): Promise<boolean>
  /** Marks every unused token of the user for `purpose` used; returns how many. */
  voidOneTimeTokens(userId: number, purpose: OneTimePurpose, now: number): Promise<number>
  /** Adds a message to send from `now`; returns its id. */
  enqueueMail(message: { kind: string; payload: string }, now: number): Promise<number>
  /**
   * Claims up to `limit` messages due at `now` for one attempt: counts it and moves their next attempt
   * to `claimUntil`, atomically, so that no other sender takes them meanwhile (SKIP LOCKED).
   */
  claimMail(now: number, limit: number, claimUntil: number): Promise<OutboxMessage[]>
  /** Records an attempt's outcome; a sent or failed message loses its payload. */
  settleMail(id: number, outcome: OutboxOutcome): Promise<void>
  /** Deletes tokens expired and messages settled before `before`; returns how many rows. */
  pruneMail(before: number): Promise<number>
}
