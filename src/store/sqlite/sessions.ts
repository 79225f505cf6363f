// The SQLite side of SessionStore: sessions with their refresh tokens, the token-owner lookup, and
// rotation in one IMMEDIATE transaction, so that of concurrent rotations exactly one wins.
import type Database from 'better-sqlite3'
import {
  SESSION_PRUNE_GRACE_MS,
  type CurrentCredentials,
  type NewSession,
  type SessionStore,
} from '../contract.js'
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
import { credentialsStillCurrent, type CredentialsRow } from '../rows/users.js'
import { deleteInBatches } from './delete-in-batches.js'

export function createSqliteSessionStore(db: Database.Database): SessionStore {
  const statements = {
    credentials: db.prepare<[number], CredentialsRow>(
      'SELECT hashed_password, credential_version, disabled FROM users WHERE id = ?',
    ),
    pruneSessions: db.prepare<[number, number]>(
      `DELETE FROM gatehouse_sessions WHERE id IN (
         SELECT id FROM gatehouse_sessions WHERE expires_at < ? OR revoked_at < ? LIMIT ${PRUNE_BATCH})`,
    ),
    insertSession: db.prepare<
      [
        string,
        number,
        string,
        number,
        number,
        number,
        string | null,
        string | null,
        string | null,
        string | null,
      ]
    >(
      `INSERT INTO gatehouse_sessions (id, user_id, scope, created_at, last_used_at, expires_at, user_agent, ip, amr, client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertToken: db.prepare<[string, string, number]>(
      'INSERT INTO gatehouse_refresh_tokens (token_hash, session_id, issued_at) VALUES (?, ?, ?)',
    ),
    tokenOwner: db.prepare<[string, string], TokenOwnerRow>(tokenOwnerQuery('?', '?')),
    refreshToken: db.prepare<[string], RefreshTokenRow>(
      `SELECT t.token_hash, t.issued_at, t.spent_at, t.successor, ${SESSION_COLUMNS}
       FROM gatehouse_refresh_tokens t JOIN gatehouse_sessions s ON s.id = t.session_id WHERE t.token_hash = ?`,
    ),
    spendToken: db.prepare<[number, string | null, string]>(
      `UPDATE gatehouse_refresh_tokens SET spent_at = ?, successor = ? WHERE token_hash = ? AND spent_at IS NULL
       AND session_id IN (SELECT id FROM gatehouse_sessions WHERE revoked_at IS NULL)`,
    ),
    sessionOfToken: db.prepare<[string], { session_id: string }>(
      'SELECT session_id FROM gatehouse_refresh_tokens WHERE token_hash = ?',
    ),
    touchSession: db.prepare<[number, string]>(
      'UPDATE gatehouse_sessions SET last_used_at = ? WHERE id = ?',
    ),
    activeSessions: db.prepare<[number, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM gatehouse_sessions s WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? ORDER BY s.created_at`,
    ),
    revokeSession: db.prepare<[number, string]>(
      'UPDATE gatehouse_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    ),
    revokeOwnSession: db.prepare<[number, string, number]>(
      'UPDATE gatehouse_sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL',
    ),
  }

  const insertSession = (session: NewSession): void => {
    statements.insertSession.run(
      session.id,
      session.userId,
      session.scope.join(' '),
      session.createdAt,
      session.createdAt,
      session.expiresAt,
      session.userAgent,
      session.ip,
      session.amr?.length ? session.amr.join(' ') : null,
      session.clientId ?? null,
    )
    statements.insertToken.run(session.refreshTokenHash, session.id, session.createdAt)
  }
  const createSession = db.transaction(insertSession)

  // IMMEDIATE: the check and the insert hold the write lock together, so no credential change
  // (ours or another program's) can commit between them.
  const createSessionIfCurrent = db.transaction(
    (session: NewSession, expect: CurrentCredentials): boolean => {
      if (!credentialsStillCurrent(statements.credentials.get(session.userId), expect)) return false
      insertSession(session)
      return true
    },
  )

  // Spend and issue in one IMMEDIATE transaction: of concurrent rotations, exactly one sees the old token unspent.
  const rotate = db.transaction(
    (oldHash: string, newHash: string, now: number, successor: string | null): boolean => {
      if (statements.spendToken.run(now, successor, oldHash).changes !== 1) return false
      const sessionId = statements.sessionOfToken.get(oldHash)!.session_id
      statements.insertToken.run(newHash, sessionId, now)
      statements.touchSession.run(now, sessionId)
      return true
    },
  )

  return {
    async createSession(session) {
      createSession.immediate(session)
    },
    async createSessionIfCurrent(session, expect) {
      return createSessionIfCurrent.immediate(session, expect)
    },
    async pruneSessions(now) {
      const cutoff = now - SESSION_PRUNE_GRACE_MS
      return deleteInBatches(() => statements.pruneSessions.run(cutoff, cutoff).changes)
    },
    async findTokenOwner(username, sessionId) {
      const row = statements.tokenOwner.get(sessionId, username)
      return row && toTokenOwner(row)
    },
    async findRefreshToken(tokenHash) {
      const row = statements.refreshToken.get(tokenHash)
      if (!row) return undefined
      return toRefreshToken(row)
    },
    async rotateRefreshToken(oldHash, newHash, now, sealedSuccessor) {
      return rotate.immediate(oldHash, newHash, now, sealedSuccessor ?? null)
    },
    async listActiveSessions(userId, now) {
      return statements.activeSessions.all(userId, now).map(toSessionRecord)
    },
    async revokeSession(sessionId, now, userId) {
      const result =
        userId === undefined
          ? statements.revokeSession.run(now, sessionId)
          : statements.revokeOwnSession.run(now, sessionId, userId)
      return result.changes > 0
    },
  }
}
