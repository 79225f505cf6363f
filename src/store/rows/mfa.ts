// The TOTP-factor and mfa_token rows and their mapping to the contract's records.
import type { MfaTokenRecord, TotpFactorRecord } from '../contract.js'

export interface TotpRow {
  user_id: number
  secret: string
  created_at: number
  confirmed_at: number | null
  last_step: number | null
}

export function toTotpFactor(row: TotpRow): TotpFactorRecord {
  return {
    userId: row.user_id,
    sealedSecret: row.secret,
    createdAt: row.created_at,
    confirmedAt: row.confirmed_at,
    lastStep: row.last_step,
  }
}

export interface MfaTokenRow {
  token_hash: string
  user_id: number
  client_id: string | null
  scope: string | null
  password_digest: string
  credential_version: number
  created_at: number
  expires_at: number
  spent_at: number | null
}

export function toMfaToken(row: MfaTokenRow): MfaTokenRecord {
  return {
    tokenHash: row.token_hash,
    userId: row.user_id,
    clientId: row.client_id,
    scope: row.scope,
    passwordDigest: row.password_digest,
    credentialVersion: row.credential_version,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    spentAt: row.spent_at,
  }
}
