// The PostgreSQL side of MfaStore (TOTP factors, recovery codes, mfa_tokens). Single statements are
// atomic on their own; confirm and remove run in a transaction.
import type { MfaStore } from '../contract.js'
import { toMfaToken, toTotpFactor, type MfaTokenRow, type TotpRow } from '../rows/mfa.js'
import type { Database } from './database.js'

export function createPostgresMfaStore({ query, transaction }: Database): MfaStore {
  const changed = async (text: string, values: unknown[]): Promise<boolean> =>
    ((await query(text, values)).rowCount ?? 0) > 0

  return {
    async findTotp(userId) {
      const { rows } = await query<TotpRow>('SELECT * FROM gatehouse_totp WHERE user_id = $1', [
        userId,
      ])
      return rows[0] && toTotpFactor(rows[0])
    },
    startTotp: (userId, sealedSecret, now) =>
      changed(
        `INSERT INTO gatehouse_totp AS t (user_id, secret, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at,
           last_step = NULL WHERE t.confirmed_at IS NULL`,
        [userId, sealedSecret, now],
      ),
    confirmTotp: (userId, sealedSecret, step, hashes, now) =>
      transaction(async (client) => {
        const confirmed = await client.query(
          `UPDATE gatehouse_totp SET confirmed_at = $1, last_step = $2
           WHERE user_id = $3 AND secret = $4 AND confirmed_at IS NULL`,
          [now, step, userId, sealedSecret],
        )
        if (!confirmed.rowCount) return false
        await client.query('DELETE FROM gatehouse_recovery_codes WHERE user_id = $1', [userId])
        await client.query(
          `INSERT INTO gatehouse_recovery_codes (user_id, code_hash)
           SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
          [userId, [...hashes]],
        )
        return true
      }),
    acceptTotpStep: (userId, step) =>
      changed(
        `UPDATE gatehouse_totp SET last_step = $1
         WHERE user_id = $2 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)`,
        [step, userId],
      ),
    resealTotp: (userId, from, to) =>
      changed('UPDATE gatehouse_totp SET secret = $1 WHERE user_id = $2 AND secret = $3', [
        to,
        userId,
        from,
      ]),
    removeTotp: (userId) =>
      transaction(async (client) => {
        await client.query('DELETE FROM gatehouse_recovery_codes WHERE user_id = $1', [userId])
        const removed = await client.query('DELETE FROM gatehouse_totp WHERE user_id = $1', [
          userId,
        ])
        return (removed.rowCount ?? 0) > 0
      }),
    spendRecoveryCode: (userId, codeHash, now) =>
      changed(
        'UPDATE gatehouse_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL',
        [now, userId, codeHash],
      ),
    async countRecoveryCodes(userId) {
      const { rows } = await query<{ n: number }>(
        'SELECT COUNT(*)::integer AS n FROM gatehouse_recovery_codes WHERE user_id = $1 AND used_at IS NULL',
        [userId],
      )
      return rows[0]?.n ?? 0
    },
    async createMfaToken(token) {
      await query(
        'DELETE FROM gatehouse_mfa_tokens WHERE token_hash IN (SELECT token_hash FROM gatehouse_mfa_tokens WHERE expires_at < $1 LIMIT 100)',
        [token.createdAt],
      )
      await query(
        `INSERT INTO gatehouse_mfa_tokens (token_hash, user_id, client_id, scope, password_digest,
           credential_version, created_at, expires_at, spent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          token.tokenHash,
          token.userId,
          token.clientId,
          token.scope,
          token.passwordDigest,
          token.credentialVersion,
          token.createdAt,
          token.expiresAt,
          token.spentAt,
        ],
      )
    },
    async findMfaToken(tokenHash) {
      const { rows } = await query<MfaTokenRow>(
        'SELECT * FROM gatehouse_mfa_tokens WHERE token_hash = $1',
        [tokenHash],
      )
      return rows[0] && toMfaToken(rows[0])
    },
    spendMfaToken: (tokenHash, now) =>
      changed(
        'UPDATE gatehouse_mfa_tokens SET spent_at = $1 WHERE token_hash = $2 AND spent_at IS NULL AND expires_at > $1',
        [now, tokenHash],
      ),
  }
}
