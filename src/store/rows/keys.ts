// The signing-key row and its mapping to SigningKeyRecord.
import type { SigningKeyRecord } from '../contract.js'

export interface KeyRow {
  kid: string
  algorithm: string
  private_key: string
  public_jwk: string
  created_at: number
  retire_at: number | null
}

export function toSigningKey(row: KeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    algorithm: row.algorithm,
    privateKey: row.private_key,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    retireAt: row.retire_at,
  }
}
