// The SQLite side of UserStore: user rows, their username keys, search, and credential changes that
// revoke sessions in the same IMMEDIATE transaction. Statements are prepared once, on the store's connection.
import Database from 'better-sqlite3'
import { DuplicateUser } from '../../errors.js'
import type { CredentialChange, NewUser, UserStore } from '../contract.js'
import {
  BCRYPT_PRESENT_QUERY,
  containsPattern,
  toUserRecord,
  USER_COLUMNS,
  type UserRow,
} from '../rows/users.js'
import { usernameKey } from '../username-key.js'

/** LIKE is case-insensitive for ASCII in SQLite; `\` escapes the wildcards of the search text. */
const MATCHES_PATTERN = `(username LIKE @pattern ESCAPE '\\' OR email LIKE @pattern ESCAPE '\\' OR full_name LIKE @pattern ESCAPE '\\')`

export function createSqliteUserStore(db: Database.Database): UserStore {
  const statements = {
    taken: db.prepare<
      [{ username: string; key: string; email: string | null }],
      { field: 'username' | 'email' }
    >(
      `SELECT CASE WHEN username = @username OR username_key = @key THEN 'username' ELSE 'email' END
       AS field FROM users WHERE username = @username OR username_key = @key OR lower(email) = lower(@email) LIMIT 1`,
    ),
    byUsername: db.prepare<[string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE username = ?`,
    ),
    byId: db.prepare<[number], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
    insert: db.prepare<
      [string, string, string | null, string | null, string, number, string | null, number | null],
      UserRow
    >(
      `INSERT INTO users (username, username_key, email, full_name, hashed_password, disabled, scopes, email_verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${USER_COLUMNS}`,
    ),
    search: db.prepare<[{ pattern: string; limit: number; offset: number }], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE ${MATCHES_PATTERN} ORDER BY id LIMIT @limit OFFSET @offset`,
    ),
    count: db.prepare<[{ pattern: string }], { total: number }>(
      `SELECT COUNT(*) AS total FROM users WHERE ${MATCHES_PATTERN}`,
    ),
    setEmail: db.prepare<[string | null, string]>('UPDATE users SET email = ? WHERE username = ?'),
    setFullName: db.prepare<[string | null, string]>(
      'UPDATE users SET full_name = ? WHERE username = ?',
    ),
    setEmailVerifiedOf: db.prepare<[number | null, string]>(
      'UPDATE users SET email_verified = ? WHERE username = ?',
    ),
    missingKeys: db.prepare<[], { id: number; username: string }>(
      'SELECT id, username FROM users WHERE username_key IS NULL AND username IS NOT NULL',
    ),
    keyTaken: db.prepare<[string], { taken: number }>(
      'SELECT 1 AS taken FROM users WHERE username_key = ?',
    ),
    setKey: db.prepare<[string, number]>('UPDATE users SET username_key = ? WHERE id = ?'),
    changeCredentials: db.prepare<
      [
        {
          id: number
          hash: string | null
          expected: string | null
          setDisabled: number
          disabled: number
        },
      ]
    >(
      `UPDATE users SET hashed_password = COALESCE(@hash, hashed_password),
         disabled = CASE WHEN @setDisabled THEN @disabled ELSE disabled END,
         credential_version = credential_version + 1
       WHERE id = @id AND (@expected IS NULL OR hashed_password = @expected)`,
    ),
    revokeUserSessions: db.prepare<[number, number, string]>(
      'UPDATE gatehouse_sessions SET revoked_at = ? WHERE user_id = ? AND id != ? AND revoked_at IS NULL',
    ),
    bcryptPresent: db.prepare<[], { present: number }>(BCRYPT_PRESENT_QUERY),
    all: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id`),
    replaceHash: db.prepare<[string, number, string]>(
      'UPDATE users SET hashed_password = ? WHERE id = ? AND hashed_password = ?',
    ),
    setDisabled: db.prepare<[number, string]>('UPDATE users SET disabled = ? WHERE username = ?'),
    remove: db.prepare<[string]>('DELETE FROM users WHERE username = ?'),
    setScopes: db.prepare<[string | null, string]>(
      'UPDATE users SET scopes = ? WHERE username = ?',
    ),
  }

  // The user row first, then the sessions, in one IMMEDIATE transaction: a login checking the row
  // afterwards sees the change; one that committed before has its session revoked here.
  const changeCredentials = db.transaction(
    (
      userId: number,
      change: CredentialChange,
      revoke: { now: number; exceptSessionId?: string } | undefined,
    ): boolean => {
      const changed = statements.changeCredentials.run({
        id: userId,
        hash: change.hashedPassword ?? null,
        expected: change.expectedHash ?? null,
        setDisabled: change.disabled === undefined ? 0 : 1,
        disabled: change.disabled ? 1 : 0,
      }).changes
      if (changed === 0) return false
      if (revoke)
        statements.revokeUserSessions.run(revoke.now, userId, revoke.exceptSessionId ?? '')
      return true
    },
  )

  // Rows the FastAPI app inserted after migration have no username_key: they get theirs before a new
  // user is compared with them (the username_key index finds them: `IS NULL` is an index lookup). A
  // legacy look-alike whose key another row already has keeps NULL.
  const insertUser = db.transaction((user: NewUser) => {
    for (const row of statements.missingKeys.all()) {
      const key = usernameKey(row.username)
      if (!statements.keyTaken.get(key)) statements.setKey.run(key, row.id)
    }
    return statements.insert.get(
      user.username,
      usernameKey(user.username),
      user.email ?? null,
      user.fullName ?? null,
      user.hashedPassword,
      user.disabled ? 1 : 0,
      user.scopes ? user.scopes.join(' ') : null,
      user.emailVerified == null ? null : user.emailVerified ? 1 : 0,
    )
  })

  const updateProfile = db.transaction(
    (
      username: string,
      profile: { email?: string | null; fullName?: string | null; emailVerified?: boolean | null },
    ): boolean => {
      if (!statements.byUsername.get(username)) return false
      if (profile.email !== undefined) statements.setEmail.run(profile.email, username)
      if (profile.fullName !== undefined) statements.setFullName.run(profile.fullName, username)
      if (profile.emailVerified !== undefined) {
        const verified = profile.emailVerified
        statements.setEmailVerifiedOf.run(verified === null ? null : verified ? 1 : 0, username)
      }
      return true
    },
  )

  return {
    async findUserByUsername(username) {
      const row = statements.byUsername.get(username)
      return row && toUserRecord(row)
    },
    async findUserById(id) {
      const row = statements.byId.get(id)
      return row && toUserRecord(row)
    },
    async createUser(user: NewUser) {
      try {
        return toUserRecord(insertUser.immediate(user) as UserRow)
      } catch (error) {
        throw toDuplicateUser(error) ?? error
      }
    },
    async findTaken(user) {
      const { username, email } = user
      return statements.taken.get({ username, key: usernameKey(username), email })?.field
    },
    async listUsers() {
      return statements.all.all().map(toUserRecord)
    },
    async searchUsers({ q, limit, offset }) {
      const pattern = containsPattern(q)
      return {
        users: statements.search.all({ pattern, limit, offset }).map(toUserRecord),
        total: statements.count.get({ pattern })!.total,
      }
    },
    async updateProfile(username, profile) {
      try {
        return updateProfile.immediate(username, profile)
      } catch (error) {
        throw toDuplicateUser(error) ?? error
      }
    },
    async replacePasswordHash(id, expectedHash, hashedPassword) {
      return statements.replaceHash.run(hashedPassword, id, expectedHash).changes > 0
    },
    async setDisabled(username, disabled) {
      return statements.setDisabled.run(disabled ? 1 : 0, username).changes > 0
    },
    async removeUser(username) {
      return statements.remove.run(username).changes > 0
    },
    async setScopes(username, scopes) {
      return (
        statements.setScopes.run(scopes === null ? null : scopes.join(' '), username).changes > 0
      )
    },
    async changeCredentials(userId, change, revoke) {
      return changeCredentials.immediate(userId, change, revoke)
    },
    async hasBcryptHashes() {
      return statements.bcryptPresent.get()?.present === 1
    },
  }
}

function toDuplicateUser(error: unknown): DuplicateUser | undefined {
  if (!(error instanceof Database.SqliteError) || !error.code.startsWith('SQLITE_CONSTRAINT'))
    return undefined
  if (/\.email\b|email_lower/.test(error.message)) return new DuplicateUser('email')
  if (/\.username(_key)?\b/.test(error.message)) return new DuplicateUser('username')
  return undefined
}
