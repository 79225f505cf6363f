// The SQLite side of MailStore: address verification, one-time tokens, and the outbox, whose claim
// is one UPDATE (SQLite runs one writer at a time).
import type Database from 'better-sqlite3'
import type { MailStore } from '../contract.js'
import {
  outboxOutcomeColumns,
  toOneTimeToken,
  toOutboxMessage,
  type OneTimeTokenRow,
  type OutboxRow,
} from '../rows/mail.js'
import { toUserRecord, USER_COLUMNS, type UserRow } from '../rows/users.js'

export function createSqliteMailStore(db: Database.Database): MailStore {
  const statements = {
    byEmail: db.prepare<[string, string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower(?) ORDER BY email = ? DESC, id LIMIT 1`,
    ),
    setVerified: db.prepare<[number, string]>(
      'UPDATE users SET email_verified = 1 WHERE id = ? AND email = ?',
    ),
    insertToken: db.prepare<[string, string, number, string, number, number]>(
      'INSERT INTO gatehouse_one_time_tokens (token_hash, purpose, user_id, binding, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    token: db.prepare<[string], OneTimeTokenRow>(
      'SELECT * FROM gatehouse_one_time_tokens WHERE token_hash = ?',
    ),
    useToken: db.prepare<[number, string, number]>(
      'UPDATE gatehouse_one_time_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
    ),
    voidTokens: db.prepare<[number, number, string]>(
      'UPDATE gatehouse_one_time_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL',
    ),
    enqueue: db.prepare<[string, string, number, number]>(
      'INSERT INTO gatehouse_outbox (kind, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?)',
    ),
    // SQLite runs one writer at a time: the UPDATE alone is the claim.
    claim: db.prepare<[number, number, number], OutboxRow>(
      `UPDATE gatehouse_outbox SET attempts = attempts + 1, next_attempt_at = ?
       WHERE id IN (SELECT id FROM gatehouse_outbox WHERE sent_at IS NULL AND failed_at IS NULL
         AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, kind, payload, attempts`,
    ),
    settle: db.prepare<
      [
        {
          id: number
          sentAt: number | null
          retryAt: number | null
          failedAt: number | null
          error: string | null
          erase: number
        },
      ]
    >(
      `UPDATE gatehouse_outbox SET sent_at = @sentAt, failed_at = @failedAt, last_error = @error,
         next_attempt_at = COALESCE(@retryAt, next_attempt_at),
         payload = CASE WHEN @erase THEN NULL ELSE payload END
       WHERE id = @id`,
    ),
    pruneTokens: db.prepare<[number]>('DELETE FROM gatehouse_one_time_tokens WHERE expires_at < ?'),
    pruneOutbox: db.prepare<[number, number]>(
      'DELETE FROM gatehouse_outbox WHERE sent_at < ? OR failed_at < ?',
    ),
  }
  return {
    async findUserByEmail(email) {
      const row = statements.byEmail.get(email, email)
      return row && toUserRecord(row)
    },
    async setEmailVerified(userId, email) {
      return statements.setVerified.run(userId, email).changes > 0
    },
    async createOneTimeToken(token) {
      statements.insertToken.run(
        token.tokenHash,
        token.purpose,
        token.userId,
        token.binding,
        token.createdAt,
        token.expiresAt,
      )
    },
    async findOneTimeToken(tokenHash) {
      const row = statements.token.get(tokenHash)
      return row && toOneTimeToken(row)
    },
    async useOneTimeToken(tokenHash, now) {
      return statements.useToken.run(now, tokenHash, now).changes === 1
    },
    async voidOneTimeTokens(userId, purpose, now) {
      return statements.voidTokens.run(now, userId, purpose).changes
    },
    async enqueueMail(message, now) {
      const result = statements.enqueue.run(message.kind, message.payload, now, now)
      return Number(result.lastInsertRowid)
    },
    async claimMail(now, limit, claimUntil) {
      return statements.claim.all(claimUntil, now, limit).map(toOutboxMessage)
    },
    async settleMail(id, outcome) {
      statements.settle.run({ id, ...outboxOutcomeColumns(outcome) })
    },
    async pruneMail(before) {
      const tokens = statements.pruneTokens.run(before).changes
      return tokens + statements.pruneOutbox.run(before, before).changes
    },
  }
}
