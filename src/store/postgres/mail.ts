// The PostgreSQL side of MailStore: address verification, one-time tokens, and the outbox, whose
// claims skip the messages other instances hold.
import type { MailStore } from '../contract.js'
import {
  outboxOutcomeColumns,
  toOneTimeToken,
  toOutboxMessage,
  type OneTimeTokenRow,
  type OutboxRow,
} from '../rows/mail.js'
import { toUserRecord, USER_COLUMNS, type UserRow } from '../rows/users.js'
import type { Database } from './database.js'

export function createPostgresMailStore({ query, changed }: Database): MailStore {
  return {
    async findUserByEmail(email) {
      const { rows } = await query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1) ORDER BY email = $1 DESC, id LIMIT 1`,
        [email],
      )
      return rows[0] && toUserRecord(rows[0])
    },
    async setEmailVerified(userId, email) {
      return (
        (await changed('UPDATE users SET email_verified = true WHERE id = $1 AND email = $2', [
          userId,
          email,
        ])) > 0
      )
    },
    async createOneTimeToken(token) {
      await query(
        'INSERT INTO gatehouse_one_time_tokens (token_hash, purpose, user_id, binding, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [
          token.tokenHash,
          token.purpose,
          token.userId,
          token.binding,
          token.createdAt,
          token.expiresAt,
        ],
      )
    },
    async findOneTimeToken(tokenHash) {
      const { rows } = await query<OneTimeTokenRow>(
        'SELECT * FROM gatehouse_one_time_tokens WHERE token_hash = $1',
        [tokenHash],
      )
      return rows[0] && toOneTimeToken(rows[0])
    },
    async useOneTimeToken(tokenHash, now) {
      return (
        (await changed(
          'UPDATE gatehouse_one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1',
          [now, tokenHash],
        )) === 1
      )
    },
    async voidOneTimeTokens(userId, purpose, now) {
      return changed(
        'UPDATE gatehouse_one_time_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL',
        [now, userId, purpose],
      )
    },
    async enqueueMail(message, now) {
      const { rows } = await query<{ id: number }>(
        'INSERT INTO gatehouse_outbox (kind, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $3) RETURNING id',
        [message.kind, message.payload, now],
      )
      return Number(rows[0]!.id)
    },
    async claimMail(now, limit, claimUntil) {
      // SKIP LOCKED: instances claiming at once take different messages, and never wait on each other.
      const { rows } = await query<OutboxRow>(
        `UPDATE gatehouse_outbox SET attempts = attempts + 1, next_attempt_at = $1
         WHERE id IN (SELECT id FROM gatehouse_outbox WHERE sent_at IS NULL AND failed_at IS NULL
           AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, payload, attempts`,
        [claimUntil, now, limit],
      )
      return rows.map(toOutboxMessage)
    },
    async settleMail(id, outcome) {
      const columns = outboxOutcomeColumns(outcome)
      await query(
        `UPDATE gatehouse_outbox SET sent_at = $2, failed_at = $3, last_error = $4,
           next_attempt_at = COALESCE($5, next_attempt_at),
           payload = CASE WHEN $6 THEN NULL ELSE payload END
         WHERE id = $1`,
        [id, columns.sentAt, columns.failedAt, columns.error, columns.retryAt, columns.erase === 1],
      )
    },
    async pruneMail(before) {
      const tokens = await changed('DELETE FROM gatehouse_one_time_tokens WHERE expires_at < $1', [
        before,
      ])
      return (
        tokens +
        (await changed('DELETE FROM gatehouse_outbox WHERE sent_at < $1 OR failed_at < $1', [
          before,
        ]))
      )
    },
  }
}
