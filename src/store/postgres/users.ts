// The PostgreSQL side of UserStore: user rows, their username keys, search, and credential changes that
// revoke sessions in the same transaction, the user row locked first.
import pg from 'pg'
import { DuplicateUser } from '../../errors.js'
import type { NewUser, UserStore } from '../contract.js'
import {
  BCRYPT_PRESENT_QUERY,
  containsPattern,
  toUserRecord,
  USER_COLUMNS,
  type UserRow,
} from '../rows/users.js'
import { usernameKey } from '../username-key.js'
import type { Database } from './database.js'
import type { Query } from './transactions.js'

export function createPostgresUserStore({ query, changed, transaction }: Database): UserStore {
  return {
    async findUserByUsername(username) {
      const { rows } = await query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE username = $1`,
        [username],
        'gatehouse_user_by_name',
      )
      return rows[0] && toUserRecord(rows[0])
    },
    async findUserById(id) {
      const { rows } = await query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id])
      return rows[0] && toUserRecord(rows[0])
    },
    async createUser(user: NewUser) {
      try {
        return await transaction(async (client) => {
          await backfillUsernameKeys(client)
          const { rows } = await client.query<UserRow>(
            `INSERT INTO users (username, username_key, email, full_name, hashed_password, disabled, scopes, email_verified)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${USER_COLUMNS}`,
            [
              user.username,
              usernameKey(user.username),
              user.email ?? null,
              user.fullName ?? null,
              user.hashedPassword,
              user.disabled ?? false,
              user.scopes ? user.scopes.join(' ') : null,
              user.emailVerified ?? null,
            ],
          )
          return toUserRecord(rows[0]!)
        })
      } catch (error) {
        throw toDuplicateUser(error) ?? error
      }
    },
    async findTaken(user) {
      const { rows } = await query<{ field: 'username' | 'email' }>(
        `SELECT CASE WHEN username = $1 OR username_key = $2 THEN 'username' ELSE 'email' END AS field
         FROM users WHERE username = $1 OR username_key = $2 OR lower(email) = lower($3) LIMIT 1`,
        [user.username, usernameKey(user.username), user.email],
      )
      return rows[0]?.field
    },
    async listUsers() {
      return (await query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id`)).rows.map(
        toUserRecord,
      )
    },
    async searchUsers({ q, limit, offset }) {
      const pattern = containsPattern(q)
      const matches = 'username ILIKE $1 OR email ILIKE $1 OR full_name ILIKE $1'
      const [page, count] = await Promise.all([
        query<UserRow>(
          `SELECT ${USER_COLUMNS} FROM users WHERE ${matches} ORDER BY id LIMIT $2 OFFSET $3`,
          [pattern, limit, offset],
        ),
        query<{ total: number }>(`SELECT COUNT(*)::int AS total FROM users WHERE ${matches}`, [
          pattern,
        ]),
      ])
      return { users: page.rows.map(toUserRecord), total: count.rows[0]?.total ?? 0 }
    },
    async updateProfile(username, profile) {
      try {
        return (
          (await changed(
            // One CASE per field: its flag says whether it was given at all (null included).
            `UPDATE users SET email = CASE WHEN $2 THEN $3 ELSE email END, full_name = CASE WHEN $4 THEN $5 ELSE full_name END,
               email_verified = CASE WHEN $6 THEN $7::boolean ELSE email_verified END WHERE username = $1`,
            [
              username,
              profile.email !== undefined,
              profile.email ?? null,
              profile.fullName !== undefined,
              profile.fullName ?? null,
              profile.emailVerified !== undefined,
              profile.emailVerified ?? null,
            ],
          )) > 0
        )
      } catch (error) {
        throw toDuplicateUser(error) ?? error
      }
    },
    async setDisabled(username, disabled) {
      return (
        (await changed('UPDATE users SET disabled = $1 WHERE username = $2', [
          disabled,
          username,
        ])) > 0
      )
    },
    async replacePasswordHash(id, expectedHash, hashedPassword) {
      return (
        (await changed(
          'UPDATE users SET hashed_password = $1 WHERE id = $2 AND hashed_password = $3',
          [hashedPassword, id, expectedHash],
        )) > 0
      )
    },
    async removeUser(username) {
      return (await changed('DELETE FROM users WHERE username = $1', [username])) > 0
    },
    async setScopes(username, scopes) {
      return (
        (await changed('UPDATE users SET scopes = $1 WHERE username = $2', [
          scopes === null ? null : scopes.join(' '),
          username,
        ])) > 0
      )
    },
    async changeCredentials(userId, change, revoke) {
      return transaction(async (client) => {
        // The user row first: its lock orders this against createSessionIfCurrent's FOR SHARE.
        const updated = await client.query(
          `UPDATE users SET hashed_password = COALESCE($2, hashed_password),
             disabled = CASE WHEN $3::boolean IS NULL THEN disabled ELSE $3 END,
             credential_version = credential_version + 1
           WHERE id = $1 AND ($4::text IS NULL OR hashed_password = $4)`,
          [
            userId,
            change.hashedPassword ?? null,
            change.disabled ?? null,
            change.expectedHash ?? null,
          ],
        )
        if (!updated.rowCount) return false
        if (revoke)
          await client.query(
            'UPDATE gatehouse_sessions SET revoked_at = $1 WHERE user_id = $2 AND id IS DISTINCT FROM $3 AND revoked_at IS NULL',
            [revoke.now, userId, revoke.exceptSessionId ?? null],
          )
        return true
      })
    },
    async hasBcryptHashes() {
      const { rows } = await query<{ present: boolean }>(BCRYPT_PRESENT_QUERY)
      return rows[0]?.present === true
    },
  }
}

/**
 * Gives rows the FastAPI app inserted after migration (username_key NULL) their key before a new user
 * is compared with them. A legacy look-alike whose key another row already holds keeps NULL: its
 * unique violation is undone by a savepoint instead of failing the insert. Rows another transaction
 * is keying are skipped.
 */
async function backfillUsernameKeys(client: Query): Promise<void> {
  const { rows } = await client.query<{ id: number; username: string }>(
    'SELECT id, username FROM users WHERE username_key IS NULL AND username IS NOT NULL FOR UPDATE SKIP LOCKED',
  )
  for (const row of rows) {
    await client.query('SAVEPOINT gatehouse_username_key')
    try {
      await client.query(
        'UPDATE users SET username_key = $1 WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM users WHERE username_key = $1)',
        [usernameKey(row.username), row.id],
      )
      await client.query('RELEASE SAVEPOINT gatehouse_username_key')
    } catch (error) {
      if (!(error instanceof pg.DatabaseError) || error.code !== '23505') throw error
      await client.query('ROLLBACK TO SAVEPOINT gatehouse_username_key')
    }
  }
}

/** A unique violation names its column in `detail` ("Key (email)=...") and its index in `constraint`. */
function toDuplicateUser(error: unknown): DuplicateUser | undefined {
  if (!(error instanceof pg.DatabaseError) || error.code !== '23505') return undefined
  const column = /^Key \((\w+)\)=/.exec(error.detail ?? '')?.[1]
  if (column === 'email' || column === 'username') return new DuplicateUser(column)
  if (/email/i.test(error.constraint ?? '')) return new DuplicateUser('email')
  if (/username/i.test(error.constraint ?? '')) return new DuplicateUser('username')
  return undefined
}
