// The embedded default store: one SQLite file through better-sqlite3, WAL mode so readers never wait
// for a writer, a busy timeout so several processes can share the file, and statements prepared once.
import Database from 'better-sqlite3'
import { ConfigError, DuplicateUser } from '../errors.js'
import {
  SESSION_PRUNE_GRACE_MS,
  type CredentialChange,
  type CurrentCredentials,
  type MailStore,
  type NewSession,
  type NewUser,
  type SigningKeyRecord,
  type Store,
  type ThrottleUpdate,
} from './contract.js'
import { LATEST_SCHEMA_VERSION, migrations } from './migrations/index.js'
import {
  assertPrunable,
  BCRYPT_PRESENT_QUERY,
  toChange,
  CLIENT_COLUMNS,
  containsPattern,
  credentialsStillCurrent,
  PRUNE_BATCH,
  takeLeaseQuery,
  SESSION_COLUMNS,
  outboxOutcomeColumns,
  toAuditEvent,
  toOneTimeToken,
  toOutboxMessage,
  toClientRecord,
  toRefreshToken,
  toSessionRecord,
  toSigningKey,
  toThrottleState,
  toTokenOwner,
  tokenOwnerQuery,
  toUserRecord,
  USER_COLUMNS,
  type AuditRow,
  type ChangeRow,
  type ClientRow,
  type CredentialsRow,
  type KeyRow,
  type OneTimeTokenRow,
  type OutboxRow,
  type RefreshTokenRow,
  type SessionRow,
  type TokenOwnerRow,
  type ThrottleRow,
  type UserRow,
} from './rows.js'
import { createChangePump } from './change-feed.js'
import { createSqliteMfaStore } from './sqlite-mfa.js'
import { usernameKey } from './username-key.js'

/** LIKE is case-insensitive for ASCII in SQLite; `\` escapes the wildcards of the search text. */
const MATCHES_PATTERN = `(username LIKE @pattern ESCAPE '\\' OR email LIKE @pattern ESCAPE '\\' OR full_name LIKE @pattern ESCAPE '\\')`

/** The least time between two questions to the file whether another process committed. */
const PENDING_CHECK_MS = 1

export function openSqliteStore(filename: string): Store {
  let db: Database.Database
  try {
    db = new Database(filename)
  } catch (error) {
    throw new ConfigError(
      `DATABASE_URL: cannot open the SQLite database at ${filename}: ${(error as Error).message}`,
    )
  }
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    // In WAL mode NORMAL loses no committed transaction when the process dies, only on power loss.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    migrate(db)
  } catch (error) {
    db.close()
    if (error instanceof ConfigError) throw error
    throw new ConfigError(
      `DATABASE_URL: ${filename} is not a usable SQLite database: ${(error as Error).message}`,
    )
  }

  const statements = {
    taken: db.prepare<
      [{ username: string; key: string; email: string | null }],
      { field: 'username' | 'email' }
    >(
      `SELECT CASE WHEN username = @username OR username_key = @key THEN 'username' ELSE 'email' END
       AS field FROM users WHERE username = @username OR username_key = @key OR email = @email LIMIT 1`,
    ),
    byUsername: db.prepare<[string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE username = ?`,
    ),
    byId: db.prepare<[number], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
    ping: db.prepare('SELECT 1'),
    insertClient: db.prepare<[string, string, number, string | null, string, string, number]>(
      `INSERT INTO gatehouse_clients (${CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    client: db.prepare<[string], ClientRow>(
      `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients WHERE client_id = ?`,
    ),
    clients: db.prepare<[], ClientRow>(
      `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients ORDER BY created_at, client_id`,
    ),
    removeClient: db.prepare<[string]>('DELETE FROM gatehouse_clients WHERE client_id = ?'),
    revokeClientSessions: db.prepare<[number, string]>(
      'UPDATE gatehouse_sessions SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL',
    ),
    setClientSecret: db.prepare<[string, string]>(
      'UPDATE gatehouse_clients SET secret_hash = ? WHERE client_id = ? AND confidential = 1',
    ),
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
    appendAudit: db.prepare<
      [
        number,
        string,
        string,
        string | null,
        string | null,
        string | null,
        string | null,
        string | null,
      ]
    >(
      'INSERT INTO gatehouse_audit (at, type, outcome, username, ip, user_agent, detail, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    pruneAudit: db.prepare<[number]>(
      `DELETE FROM gatehouse_audit WHERE id IN (SELECT id FROM gatehouse_audit WHERE at < ? ORDER BY at LIMIT ${PRUNE_BATCH})`,
    ),
    missingKeys: db.prepare<[], { id: number; username: string }>(
      'SELECT id, username FROM users WHERE username_key IS NULL AND username IS NOT NULL',
    ),
    keyTaken: db.prepare<[string], { taken: number }>(
      'SELECT 1 AS taken FROM users WHERE username_key = ?',
    ),
    setKey: db.prepare<[string, number]>('UPDATE users SET username_key = ? WHERE id = ?'),
    credentials: db.prepare<[number], CredentialsRow>(
      'SELECT hashed_password, credential_version, disabled FROM users WHERE id = ?',
    ),
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
    pruneSessions: db.prepare<[number, number]>(
      `DELETE FROM gatehouse_sessions WHERE id IN (
         SELECT id FROM gatehouse_sessions WHERE expires_at < ? OR revoked_at < ? LIMIT ${PRUNE_BATCH})`,
    ),
    takeLease: db.prepare<[string, string, number, number]>(takeLeaseQuery('?', '?', '?', '?')),
    changesSince: db.prepare<[number, number], ChangeRow>(
      'SELECT * FROM gatehouse_changes WHERE id > ? ORDER BY id LIMIT ?',
    ),
    changeBefore: db.prepare<[number], { id: number }>(
      'SELECT id FROM gatehouse_changes WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1',
    ),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    latestChange: db.prepare<[], { id: number | null }>(
      'SELECT MAX(id) AS id FROM gatehouse_changes',
    ),
    pruneChanges: db.prepare<[number]>(
      `DELETE FROM gatehouse_changes WHERE id IN (SELECT id FROM gatehouse_changes WHERE at < ? ORDER BY id LIMIT ${PRUNE_BATCH})`,
    ),
    bcryptPresent: db.prepare<[], { present: number }>(BCRYPT_PRESENT_QUERY),
    recordIssuer: db.prepare<[string, number]>(
      'INSERT INTO gatehouse_issuers (issuer, recorded_at) VALUES (?, ?) ON CONFLICT (issuer) DO NOTHING',
    ),
    issuers: db.prepare<[], { issuer: string }>(
      'SELECT issuer FROM gatehouse_issuers ORDER BY recorded_at, issuer',
    ),
    auditPage: db.prepare<[number, number], AuditRow>(
      'SELECT * FROM gatehouse_audit WHERE id < ? ORDER BY id DESC LIMIT ?',
    ),
    all: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id`),
    replaceHash: db.prepare<[string, number, string]>(
      'UPDATE users SET hashed_password = ? WHERE id = ? AND hashed_password = ?',
    ),
    setDisabled: db.prepare<[number, string]>('UPDATE users SET disabled = ? WHERE username = ?'),
    remove: db.prepare<[string]>('DELETE FROM users WHERE username = ?'),
    setScopes: db.prepare<[string | null, string]>(
      'UPDATE users SET scopes = ? WHERE username = ?',
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
    revokeUserSessions: db.prepare<[number, number, string]>(
      'UPDATE gatehouse_sessions SET revoked_at = ? WHERE user_id = ? AND id != ? AND revoked_at IS NULL',
    ),
    throttle: db.prepare<[string], ThrottleRow>('SELECT * FROM gatehouse_throttle WHERE key = ?'),
    saveThrottle: db.prepare<[string, number, number, number, number, number]>(
      `INSERT INTO gatehouse_throttle (key, count, window_start, blocked_until, strikes, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET count = excluded.count, window_start = excluded.window_start,
         blocked_until = excluded.blocked_until, strikes = excluded.strikes, expires_at = excluded.expires_at`,
    ),
    forgetThrottle: db.prepare<[string]>('DELETE FROM gatehouse_throttle WHERE key = ?'),
    pruneThrottle: db.prepare<[number]>(
      'DELETE FROM gatehouse_throttle WHERE rowid IN (SELECT rowid FROM gatehouse_throttle WHERE expires_at < ? LIMIT 100)',
    ),
    keys: db.prepare<[number], KeyRow>(
      'SELECT * FROM gatehouse_signing_keys WHERE retire_at IS NULL OR retire_at > ? ORDER BY created_at DESC, kid',
    ),
    retireKeys: db.prepare<[number]>(
      'UPDATE gatehouse_signing_keys SET retire_at = ? WHERE retire_at IS NULL',
    ),
    schemaVersion: db.prepare<[], { version: number | null }>(
      'SELECT MAX(version) AS version FROM gatehouse_migrations',
    ),
    insertKey: db.prepare<[string, string, string, string, number]>(
      'INSERT INTO gatehouse_signing_keys (kid, algorithm, private_key, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)',
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
  const removeClient = db.transaction((clientId: string, now: number) => {
    if (statements.removeClient.run(clientId).changes !== 1) return undefined
    return { sessionsEnded: statements.revokeClientSessions.run(now, clientId).changes }
  })

  // IMMEDIATE: the check and the insert hold the write lock together, so no credential change
  // (ours or another program's) can commit between them.
  const createSessionIfCurrent = db.transaction(
    (session: NewSession, expect: CurrentCredentials): boolean => {
      if (!credentialsStillCurrent(statements.credentials.get(session.userId), expect)) return false
      insertSession(session)
      return true
    },
  )

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

  /** Runs a batched DELETE until a batch comes back short, letting other work in between batches. */
  const deleteInBatches = async (run: () => number): Promise<number> => {
    let total = 0
    for (;;) {
      const deleted = run()
      total += deleted
      if (deleted < PRUNE_BATCH) return total
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

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

  const updateThrottles = db.transaction(
    <T>(keys: readonly string[], update: ThrottleUpdate<T>): T => {
      const rows = keys.map((key) => statements.throttle.get(key))
      const now = Date.now()
      const { states, result } = update(
        rows.map((row) => (row && row.expires_at > now ? toThrottleState(row) : undefined)),
      )
      keys.forEach((key, index) => {
        const state = states[index]
        if (state)
          statements.saveThrottle.run(
            key,
            state.count,
            state.windowStart,
            state.blockedUntil,
            state.strikes,
            state.expiresAt,
          )
        else if (rows[index]) statements.forgetThrottle.run(key)
      })
      // Expired counters are forgotten a few at a time, on the way.
      statements.pruneThrottle.run(now)
      return result
    },
  )

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

  const addKey = db.transaction((key: SigningKeyRecord, retireOthersAt: number) => {
    statements.retireKeys.run(retireOthersAt)
    statements.insertKey.run(key.kid, key.algorithm, key.privateKey, key.publicJwk, key.createdAt)
  })

  return {
    ...createSqliteMfaStore(db),
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
    async appendAudit(event) {
      statements.appendAudit.run(
        event.at,
        event.type,
        event.outcome,
        event.username,
        event.ip,
        event.userAgent,
        event.detail,
        event.actor ?? null,
      )
    },
    async pruneAudit(before) {
      assertPrunable(before)
      return deleteInBatches(() => statements.pruneAudit.run(before).changes)
    },
    async recordIssuer(issuer, now) {
      statements.recordIssuer.run(issuer, now)
    },
    async listIssuers() {
      return statements.issuers.all().map((row) => row.issuer)
    },
    async takeLease(name, holder, now, ttlMs) {
      return statements.takeLease.run(name, holder, now + ttlMs, now).changes > 0
    },
    async listAudit({ limit, before }) {
      return statements.auditPage.all(before ?? Number.MAX_SAFE_INTEGER, limit).map(toAuditEvent)
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
    async createSession(session) {
      createSession.immediate(session)
    },
    async createSessionIfCurrent(session, expect) {
      return createSessionIfCurrent.immediate(session, expect)
    },
    async changeCredentials(userId, change, revoke) {
      return changeCredentials.immediate(userId, change, revoke)
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
    async createClient(client) {
      statements.insertClient.run(
        client.clientId,
        client.name,
        client.confidential ? 1 : 0,
        client.secretHash,
        client.grants.join(' '),
        client.scopes.join(' '),
        client.createdAt,
      )
    },
    async findClient(clientId) {
      const row = statements.client.get(clientId)
      return row && toClientRecord(row)
    },
    async listClients() {
      return statements.clients.all().map(toClientRecord)
    },
    async removeClient(clientId, now) {
      return removeClient(clientId, now)
    },
    async setClientSecret(clientId, secretHash) {
      return statements.setClientSecret.run(secretHash, clientId).changes === 1
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
    async updateThrottles(keys, update) {
      return updateThrottles.immediate(keys, update) as ReturnType<typeof update>['result']
    },
    async listSigningKeys(now) {
      return statements.keys.all(now).map(toSigningKey)
    },
    async addSigningKey(key, retireOthersAt) {
      addKey.immediate(key, retireOthersAt)
    },
    async ping() {
      statements.ping.get()
    },
    async schemaVersion() {
      return statements.schemaVersion.get()?.version ?? 0
    },
    async changesSince(afterId, limit) {
      return statements.changesSince.all(afterId, limit).map(toChange)
    },
    async latestChangeId() {
      return statements.latestChange.get()?.id ?? 0
    },
    async changeIdBefore(at) {
      return statements.changeBefore.get(at)?.id ?? 0
    },
    async subscribeChanges(listener, onGap, options = {}) {
      // Other processes (the CLI, another server on the same file) write too, and SQLite has no
      // notifications: the file is polled (one indexed read of the newest rows, ~100 µs per second),
      // and `pending` tells whether another connection committed since (a pragma, no read). The
      // pragma looks at the file's shared memory: asked on every request it cost a tenth of the hot
      // path, so it is asked at most once a millisecond (PostgreSQL's notifications take 1-4 ms).
      let seenVersion = statements.dataVersion.get()!
      let askedAt = Number.NEGATIVE_INFINITY
      const pump = createChangePump({
        changesSince: async (afterId, limit) =>
          statements.changesSince.all(afterId, limit).map(toChange),
        afterId: options.afterId ?? statements.latestChange.get()?.id ?? 0,
        listener,
        onGap,
      })
      const pull = (): Promise<void> => {
        // Read before the changes: a commit after it is either read too or seen as pending next time.
        seenVersion = statements.dataVersion.get()!
        return pump.pull()
      }
      const timer = setInterval(() => void pull(), options.pollMs ?? 100)
      timer.unref()
      return {
        get live() {
          return pump.live
        },
        get cursor() {
          return pump.cursor
        },
        delivered: () => pump.delivered(),
        catchUp: pull,
        pending() {
          const now = performance.now()
          if (now - askedAt < PENDING_CHECK_MS) return false
          askedAt = now
          return statements.dataVersion.get() !== seenVersion
        },
        async close() {
          clearInterval(timer)
        },
      }
    },
    async pruneChanges(before) {
      let total = 0
      for (;;) {
        const deleted = statements.pruneChanges.run(before).changes
        total += deleted
        if (deleted < PRUNE_BATCH) return total
      }
    },
    async hasBcryptHashes() {
      return statements.bcryptPresent.get()?.present === 1
    },
    ...mailStore(db),
    async close() {
      db.close()
    },
  }
}

/** The MailStore part of the driver: verification state, one-time tokens and the outbox. */
function mailStore(db: Database.Database): MailStore {
  const statements = {
    byEmail: db.prepare<[string, string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower(?) ORDER BY email = ? DESC, id LIMIT 1`,
    ),
    setVerified: db.prepare<[number, string]>(
      'UPDATE users SET email_verified = 1 WHERE id = ? AND email = ?',
    ),
    insertToken: db.prepare<[string, string, number, string, number, number]>(
      'INSERT INTO gatehouse_one_time_tokens (token_hash, purpose, user_id, binding, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    token: db.prepare<[string], OneTimeTokenRow>(
      'SELECT * FROM gatehouse_one_time_tokens WHERE token_hash = ?',
    ),
    useToken: db.prepare<[number, string, number]>(
      'UPDATE gatehouse_one_time_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
    ),
    voidTokens: db.prepare<[number, number, string]>(
      'UPDATE gatehouse_one_time_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL',
    ),
    enqueue: db.prepare<[string, string, number, number]>(
      'INSERT INTO gatehouse_outbox (kind, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?)',
    ),
    // SQLite runs one writer at a time: the UPDATE alone is the claim.
    claim: db.prepare<[number, number, number], OutboxRow>(
      `UPDATE gatehouse_outbox SET attempts = attempts + 1, next_attempt_at = ?
       WHERE id IN (SELECT id FROM gatehouse_outbox WHERE sent_at IS NULL AND failed_at IS NULL
         AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)
       RETURNING id, kind, payload, attempts`,
    ),
    settle: db.prepare<
      [
        {
          id: number
          sentAt: number | null
          retryAt: number | null
          failedAt: number | null
          error: string | null
          erase: number
        },
      ]
    >(
      `UPDATE gatehouse_outbox SET sent_at = @sentAt, failed_at = @failedAt, last_error = @error,
         next_attempt_at = COALESCE(@retryAt, next_attempt_at),
         payload = CASE WHEN @erase THEN NULL ELSE payload END
       WHERE id = @id`,
    ),
    pruneTokens: db.prepare<[number]>('DELETE FROM gatehouse_one_time_tokens WHERE expires_at < ?'),
    pruneOutbox: db.prepare<[number, number]>(
      'DELETE FROM gatehouse_outbox WHERE sent_at < ? OR failed_at < ?',
    ),
  }
  return {
    async findUserByEmail(email) {
      const row = statements.byEmail.get(email, email)
      return row && toUserRecord(row)
    },
    async setEmailVerified(userId, email) {
      return statements.setVerified.run(userId, email).changes > 0
    },
    async createOneTimeToken(token) {
      statements.insertToken.run(
        token.tokenHash,
        token.purpose,
        token.userId,
        token.binding,
        token.createdAt,
        token.expiresAt,
      )
    },
    async findOneTimeToken(tokenHash) {
      const row = statements.token.get(tokenHash)
      return row && toOneTimeToken(row)
    },
    async useOneTimeToken(tokenHash, now) {
      return statements.useToken.run(now, tokenHash, now).changes === 1
    },
    async voidOneTimeTokens(userId, purpose, now) {
      return statements.voidTokens.run(now, userId, purpose).changes
    },
    async enqueueMail(message, now) {
      const result = statements.enqueue.run(message.kind, message.payload, now, now)
      return Number(result.lastInsertRowid)
    },
    async claimMail(now, limit, claimUntil) {
      return statements.claim.all(claimUntil, now, limit).map(toOutboxMessage)
    },
    async settleMail(id, outcome) {
      statements.settle.run({ id, ...outboxOutcomeColumns(outcome) })
    },
    async pruneMail(before) {
      const tokens = statements.pruneTokens.run(before).changes
      return tokens + statements.pruneOutbox.run(before, before).changes
    },
  }
}

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock first, so processes starting together migrate one at a time.
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`)
    const current =
      db
        .prepare<[], { version: number | null }>(
          'SELECT MAX(version) AS version FROM gatehouse_migrations',
        )
        .get()?.version ?? 0
    if (current > LATEST_SCHEMA_VERSION) {
      throw new ConfigError(
        `the database is at schema version ${current}, newer than this Gatehouse knows (${LATEST_SCHEMA_VERSION}); upgrade Gatehouse`,
      )
    }
    const record = db.prepare<[number, string]>(
      'INSERT INTO gatehouse_migrations (version, name) VALUES (?, ?)',
    )
    for (const migration of migrations) {
      if (migration.version <= current) continue
      migration.sqlite(db)
      record.run(migration.version, migration.name)
    }
  }).immediate()
}

function toDuplicateUser(error: unknown): DuplicateUser | undefined {
  if (!(error instanceof Database.SqliteError) || !error.code.startsWith('SQLITE_CONSTRAINT'))
    return undefined
  if (/\.email\b/.test(error.message)) return new DuplicateUser('email')
  if (/\.username(_key)?\b/.test(error.message)) return new DuplicateUser('username')
  return undefined
}
