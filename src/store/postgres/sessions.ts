// The PostgreSQL side of SessionStore: sessions with their refresh tokens, the token-owner lookup
// (a named, once-planned statement), and rotation under the token's row lock.
import { SESSION_PRUNE_GRACE_MS, type NewSession, type SessionStore } from '../contract.js'
import { PRUNE_BATCH } from '../rows/prune-batch.js'
import {
  SESSION_COLUMNS,
  toRefreshToken,
  toSessionRecord,
  toTokenOwner,
  tokenOwnerQuery,
  type RefreshTokenRow,
  type SessionRow,
  type TokenOwnerRow,
} from '../rows/sessions.js'
import type { Database } from './database.js'

export function createPostgresSessionStore({
  query,
  changed,
  transaction,
  deleteInBatches,
}: Database): SessionStore {
  /**
   * A session and its first refresh token in one statement (atomic without a transaction: one round
   * trip, not four), created only from the rows `owner` selects: one row for any user, or the user
   * row locked FOR SHARE while its credentials are still the ones a login verified.
   */
  const insertSession = async (
    session: NewSession,
    owner = 'SELECT true',
    ownerValues: unknown[] = [],
  ): Promise<boolean> => {
    const { rows } = await query<{ created: number }>(
      `WITH owner AS (${owner}),
       session AS (
         INSERT INTO gatehouse_sessions (id, user_id, scope, created_at, last_used_at, expires_at, user_agent, ip, amr, client_id)
         SELECT $1, $2, $3, $4, $4, $5, $6, $7, $8, $9 FROM owner RETURNING id),
       token AS (
         INSERT INTO gatehouse_refresh_tokens (token_hash, session_id, issued_at)
         SELECT $10, id, $4 FROM session RETURNING 1)
       SELECT count(*)::int AS created FROM token`,
      [
        session.id,
        session.userId,
        session.scope.join(' '),
        session.createdAt,
        session.expiresAt,
        session.userAgent,
        session.ip,
        session.amr?.length ? session.amr.join(' ') : null,
        session.clientId ?? null,
        session.refreshTokenHash,
        ...ownerValues,
      ],
    )
    return rows[0]?.created === 1
  }

  return {
    async createSession(session: NewSession) {
      await insertSession(session)
    },
    async createSessionIfCurrent(session, expect) {
      // FOR SHARE blocks any UPDATE of the row until this commits, so a credential change either
      // committed before (and the row no longer matches: READ COMMITTED locking reads re-check the
      // newest version) or waits, and its revocation then sees this session.
      return insertSession(
        session,
        `SELECT true FROM users WHERE id = $2 AND hashed_password = $11 AND credential_version = $12
           AND disabled IS NOT TRUE FOR SHARE`,
        [expect.hashedPassword, expect.credentialVersion],
      )
    },
    async pruneSessions(now) {
      // Rows a rotation or revocation holds are skipped, never waited for; the next run takes them.
      return deleteInBatches(
        `DELETE FROM gatehouse_sessions WHERE id IN (
           SELECT id FROM gatehouse_sessions WHERE expires_at < $1 OR revoked_at < $1
           LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
        [now - SESSION_PRUNE_GRACE_MS],
      )
    },
    async findTokenOwner(username, sessionId) {
      const { rows } = await query<TokenOwnerRow>(
        tokenOwnerQuery('$1', '$2'),
        [sessionId, username],
        'gatehouse_token_owner',
      )
      return rows[0] && toTokenOwner(rows[0])
    },
    async findRefreshToken(tokenHash) {
      const { rows } = await query<RefreshTokenRow>(
        `SELECT t.token_hash, t.issued_at, t.spent_at, t.successor, ${SESSION_COLUMNS}
         FROM gatehouse_refresh_tokens t JOIN gatehouse_sessions s ON s.id = t.session_id WHERE t.token_hash = $1`,
        [tokenHash],
      )
      const row = rows[0]
      if (!row) return undefined
      return toRefreshToken(row)
    },
    async rotateRefreshToken(oldHash, newHash, now, sealedSuccessor) {
      return transaction(async (client) => {
        // The row lock makes concurrent spenders of one token queue up; each re-checks `spent_at IS NULL`
        // once the one before it commits, so exactly one of them, in any process, gets a row back.
        const { rows } = await client.query<{ session_id: string }>(
          `UPDATE gatehouse_refresh_tokens SET spent_at = $2, successor = $3 WHERE token_hash = $1 AND spent_at IS NULL
           AND session_id IN (SELECT id FROM gatehouse_sessions WHERE revoked_at IS NULL) RETURNING session_id`,
          [oldHash, now, sealedSuccessor ?? null],
        )
        const sessionId = rows[0]?.session_id
        if (sessionId === undefined) return false
        await client.query(
          'INSERT INTO gatehouse_refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)',
          [newHash, sessionId, now],
        )
        await client.query('UPDATE gatehouse_sessions SET last_used_at = $1 WHERE id = $2', [
          now,
          sessionId,
        ])
        return true
      })
    },
    async listActiveSessions(userId, now) {
      const { rows } = await query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM gatehouse_sessions s WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 ORDER BY s.created_at`,
        [userId, now],
      )
      return rows.map(toSessionRecord)
    },
    async revokeSession(sessionId, now, userId) {
      const revoked =
        userId === undefined
          ? await changed(
              'UPDATE gatehouse_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
              [now, sessionId],
            )
          : await changed(
              'UPDATE gatehouse_sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL',
              [now, sessionId, userId],
            )
      return revoked > 0
    },
  }
}
