// The user row both drivers read (the FastAPI tutorial's columns plus Gatehouse's), its mapping to
// UserRecord, and the user queries whose text both dialects accept.
import type { CurrentCredentials, UserRecord } from '../contract.js'
import { splitScopes } from './scope-list.js'

export interface UserRow {
  id: number
  username: string
  email: string | null
  full_name: string | null
  hashed_password: string | null
  /** SQLite answers 0/1, PostgreSQL a boolean; either may be NULL in the tutorial's table. */
  disabled: number | boolean | null
  scopes: string | null
  credential_version: number
  email_verified: number | boolean | null
}

/** What createSessionIfCurrent compares, read under the row's lock. */
export interface CredentialsRow {
  hashed_password: string | null
  credential_version: number
  disabled: number | boolean | null
}

export const USER_COLUMNS =
  'id, username, email, full_name, hashed_password, disabled, scopes, credential_version, email_verified'

/**
 * Whether a login may still create its session: the user row, read under its lock, still has the
 * verified hash and credential version and is not disabled. A NULL hash matches nothing.
 */
export function credentialsStillCurrent(
  row: CredentialsRow | undefined,
  expect: CurrentCredentials,
): boolean {
  return (
    row !== undefined &&
    row.hashed_password !== null &&
    row.hashed_password === expect.hashedPassword &&
    row.credential_version === expect.credentialVersion &&
    !row.disabled
  )
}

export function toUserRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    // A NULL hash (possible in the tutorial's schema) matches no password.
    hashedPassword: row.hashed_password ?? '',
    disabled: Boolean(row.disabled),
    scopes: row.scopes === null ? null : splitScopes(row.scopes),
    credentialVersion: row.credential_version,
    emailVerified: row.email_verified === null ? null : Boolean(row.email_verified),
  }
}

/** The `%text%` LIKE pattern for a user search, with the search text's own wildcards escaped by `\`. */
export function containsPattern(text: string | undefined): string {
  return `%${(text ?? '').replace(/[\\%_]/g, (char) => `\\${char}`)}%`
}

/** The bcrypt test the partial index gatehouse_users_bcrypt is built on (same text, so it is used). */
export const BCRYPT_PRESENT_QUERY = `SELECT EXISTS (SELECT 1 FROM users WHERE hashed_password LIKE '$2%') AS present`
