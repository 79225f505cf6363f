// The SQLite side of MfaStore (TOTP factors, recovery codes, mfa_tokens), the second factor's
// statements together. Prepared once, on the store's connection.
import type Database from 'better-sqlite3'
import type { MfaStore } from '../contract.js'
import { toMfaToken, toTotpFactor, type MfaTokenRow, type TotpRow } from '../rows/mfa.js'

export function createSqliteMfaStore(db: Database.Database): MfaStore {
  const statements = {
    totp: db.prepare<[number], TotpRow>('SELECT * FROM gatehouse_totp WHERE user_id = ?'),
    startTotp: db.prepare<[number, string, number]>(
      `INSERT INTO gatehouse_totp (user_id, secret, created_at) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at,
         last_step = NULL WHERE gatehouse_totp.confirmed_at IS NULL`,
    ),
    confirmTotp: db.prepare<[number, number, number, string]>(
      `UPDATE gatehouse_totp SET confirmed_at = ?, last_step = ?
       WHERE user_id = ? AND secret = ? AND confirmed_at IS NULL`,
    ),
    acceptStep: db.prepare<[number, number, number]>(
      `UPDATE gatehouse_totp SET last_step = ?
       WHERE user_id = ? AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)`,
    ),
    reseal: db.prepare<[string, number, string]>(
      'UPDATE gatehouse_totp SET secret = ? WHERE user_id = ? AND secret = ?',
    ),
    removeTotp: db.prepare<[number]>('DELETE FROM gatehouse_totp WHERE user_id = ?'),
    removeCodes: db.prepare<[number]>('DELETE FROM gatehouse_recovery_codes WHERE user_id = ?'),
    insertCode: db.prepare<[number, string]>(
      'INSERT OR IGNORE INTO gatehouse_recovery_codes (user_id, code_hash) VALUES (?, ?)',
    ),
    spendCode: db.prepare<[number, number, string]>(
      'UPDATE gatehouse_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL',
    ),
    countCodes: db.prepare<[number], { n: number }>(
      'SELECT COUNT(*) AS n FROM gatehouse_recovery_codes WHERE user_id = ? AND used_at IS NULL',
    ),
    insertToken: db.prepare<[MfaTokenRow]>(
      `INSERT INTO gatehouse_mfa_tokens (token_hash, user_id, client_id, scope, password_digest,
         credential_version, created_at, expires_at, spent_at)
       VALUES (@token_hash, @user_id, @client_id, @scope, @password_digest, @credential_version,
         @created_at, @expires_at, @spent_at)`,
    ),
    pruneTokens: db.prepare<[number]>(
      'DELETE FROM gatehouse_mfa_tokens WHERE token_hash IN (SELECT token_hash FROM gatehouse_mfa_tokens WHERE expires_at < ? LIMIT 100)',
    ),
    token: db.prepare<[string], MfaTokenRow>(
      'SELECT * FROM gatehouse_mfa_tokens WHERE token_hash = ?',
    ),
    spendToken: db.prepare<[number, string, number]>(
      'UPDATE gatehouse_mfa_tokens SET spent_at = ? WHERE token_hash = ? AND spent_at IS NULL AND expires_at > ?',
    ),
  }

  const confirm = db.transaction(
    (userId: number, sealed: string, step: number, hashes: readonly string[], now: number) => {
      if (statements.confirmTotp.run(now, step, userId, sealed).changes === 0) return false
      statements.removeCodes.run(userId)
      for (const hash of hashes) statements.insertCode.run(userId, hash)
      return true
    },
  )
  const remove = db.transaction((userId: number) => {
    statements.removeCodes.run(userId)
    return statements.removeTotp.run(userId).changes > 0
  })

  return {
    async findTotp(userId) {
      const row = statements.totp.get(userId)
      return row && toTotpFactor(row)
    },
    async startTotp(userId, sealedSecret, now) {
      return statements.startTotp.run(userId, sealedSecret, now).changes > 0
    },
    async confirmTotp(userId, sealedSecret, step, hashes, now) {
      return confirm.immediate(userId, sealedSecret, step, hashes, now)
    },
    async acceptTotpStep(userId, step) {
      return statements.acceptStep.run(step, userId, step).changes > 0
    },
    async resealTotp(userId, from, to) {
      return statements.reseal.run(to, userId, from).changes > 0
    },
    async removeTotp(userId) {
      return remove.immediate(userId)
    },
    async spendRecoveryCode(userId, codeHash, now) {
      return statements.spendCode.run(now, userId, codeHash).changes > 0
    },
    async countRecoveryCodes(userId) {
      return statements.countCodes.get(userId)!.n
    },
    async createMfaToken(token) {
      statements.pruneTokens.run(token.createdAt)
      statements.insertToken.run({
        token_hash: token.tokenHash,
        user_id: token.userId,
        client_id: token.clientId,
        scope: token.scope,
        password_digest: token.passwordDigest,
        credential_version: token.credentialVersion,
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        spent_at: token.spentAt,
      })
    },
    async findMfaToken(tokenHash) {
      const row = statements.token.get(tokenHash)
      return row && toMfaToken(row)
    },
    async spendMfaToken(tokenHash, now) {
      return statements.spendToken.run(now, tokenHash, now).changes > 0
    },
  }
}
