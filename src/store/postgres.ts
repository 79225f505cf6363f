// The scale-out store: PostgreSQL through one `pg` pool per process, so any number of instances can
// share a database. What must be atomic across processes is one statement or one transaction holding
// row locks; a database that cannot be reached surfaces as DatabaseUnavailable, never as a hang.
import pg from 'pg'
import { ConfigError, DatabaseUnavailable, DuplicateUser, GatehouseError } from '../errors.js'
import {
  SESSION_PRUNE_GRACE_MS,
  type Change,
  type ChangeListener,
  type GapListener,
  type NewSession,
  type NewUser,
  type Store,
} from './contract.js'
import { LATEST_SCHEMA_VERSION, migrations } from './migrations/index.js'
import {
  assertPrunable,
  BCRYPT_PRESENT_QUERY,
  toChange,
  CLIENT_COLUMNS,
  containsPattern,
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
  type KeyRow,
  type OneTimeTokenRow,
  type OutboxRow,
  type RefreshTokenRow,
  type SessionRow,
  type TokenOwnerRow,
  type ThrottleRow,
  type UserRow,
} from './rows.js'
import { createChangePump, type ChangePump } from './change-feed.js'
import { CHANGE_CHANNEL } from './migrations/009-change-feed.js'
import { createPostgresMfaStore } from './postgres-mfa.js'
import { usernameKey } from './username-key.js'

export interface PostgresStoreOptions {
  /** Connections kept at most (DATABASE_POOL_SIZE). */
  poolSize?: number
  /** How long a query may wait for a connection before failing with DatabaseUnavailable. */
  connectionTimeoutMillis?: number
}

// BIGINT columns hold epoch milliseconds (and counts), far below 2^53: numbers, not pg's default strings.
const BIGINT_AS_NUMBER: pg.CustomTypesConfig = {
  getTypeParser: (oid, format): unknown =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format),
}

/** 'gate' in ASCII: the class of Gatehouse's advisory locks, apart from other applications' ones. */
const ADVISORY_LOCK_CLASS = 0x67617465

/**
 * Transactions PostgreSQL aborted to break a deadlock (e.g. a refresh meeting the removal of its user,
 * which lock a token and its session in opposite orders) or a serialization conflict: run again, a
 * few times, as they hold nothing once rolled back.
 */
const RETRIED_SQLSTATES = new Set(['40P01', '40001'])
const MAX_ATTEMPTS = 3

type Query = Pick<pg.ClientBase, 'query'>

export async function openPostgresStore(
  connectionString: string,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    // Fail fast: a request waiting for an unreachable database answers 503 instead of hanging.
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 3_000,
    types: BIGINT_AS_NUMBER,
    application_name: 'gatehouse',
  })
  // An idle connection the server dropped (restart, failover) is discarded by the pool and the next
  // query opens a new one; without a listener the process would exit.
  pool.on('error', () => undefined)

  /** With a `name`, PostgreSQL parses and plans the statement once per connection (the hot path's lookups). */
  const query = async <R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>> => {
    try {
      return await pool.query<R>({ text, values, name })
    } catch (error) {
      throw toStoreError(error)
    }
  }
  const changed = async (text: string, values: unknown[]): Promise<number> =>
    (await query(text, values)).rowCount ?? 0
  const transaction = <T>(work: (client: Query) => Promise<T>): Promise<T> =>
    inTransaction(pool, work)
  /** Runs a batched DELETE until a batch comes back short; each batch commits on its own. */
  const deleteInBatches = async (text: string, values: unknown[]): Promise<number> => {
    let total = 0
    for (;;) {
      const deleted = await changed(text, values)
      total += deleted
      if (deleted < PRUNE_BATCH) return total
    }
  }
  let throttleUpdates = 0
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

  try {
    await transaction(migrate)
  } catch (error) {
    await pool.end()
    if (error instanceof ConfigError || error instanceof DatabaseUnavailable) throw error
    throw new ConfigError(
      `DATABASE_URL: cannot use the PostgreSQL database: ${(error as Error).message}`,
    )
  }

  const schema = (await query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!
    .schema
  const subscriptions = new Set<{ close(): Promise<void> }>()

  const store: Store = {
    ...createPostgresMfaStore(query, transaction),
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
         FROM users WHERE username = $1 OR username_key = $2 OR email = $3 LIMIT 1`,
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
    async appendAudit(event) {
      await query(
        'INSERT INTO gatehouse_audit (at, type, outcome, username, ip, user_agent, detail, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [
          event.at,
          event.type,
          event.outcome,
          event.username,
          event.ip,
          event.userAgent,
          event.detail,
          event.actor ?? null,
        ],
      )
    },
    async pruneAudit(before) {
      assertPrunable(before)
      return deleteInBatches(
        `DELETE FROM gatehouse_audit WHERE id IN (
           SELECT id FROM gatehouse_audit WHERE at < $1 ORDER BY at LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
        [before],
      )
    },
    async recordIssuer(issuer, now) {
      await query(
        'INSERT INTO gatehouse_issuers (issuer, recorded_at) VALUES ($1, $2) ON CONFLICT (issuer) DO NOTHING',
        [issuer, now],
      )
    },
    async createClient(client) {
      await query(
        `INSERT INTO gatehouse_clients (${CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          client.clientId,
          client.name,
          client.confidential,
          client.secretHash,
          client.grants.join(' '),
          client.scopes.join(' '),
          client.createdAt,
        ],
      )
    },
    async findClient(clientId) {
      const { rows } = await query<ClientRow>(
        `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients WHERE client_id = $1`,
        [clientId],
      )
      return rows[0] && toClientRecord(rows[0])
    },
    async listClients() {
      const { rows } = await query<ClientRow>(
        `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients ORDER BY created_at, client_id`,
      )
      return rows.map(toClientRecord)
    },
    async removeClient(clientId, now) {
      return transaction(async (client) => {
        const removed = await client.query('DELETE FROM gatehouse_clients WHERE client_id = $1', [
          clientId,
        ])
        if (removed.rowCount !== 1) return undefined
        const ended = await client.query(
          'UPDATE gatehouse_sessions SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL',
          [now, clientId],
        )
        return { sessionsEnded: ended.rowCount ?? 0 }
      })
    },
    async setClientSecret(clientId, secretHash) {
      const { rowCount } = await query(
        'UPDATE gatehouse_clients SET secret_hash = $1 WHERE client_id = $2 AND confidential',
        [secretHash, clientId],
      )
      return rowCount === 1
    },
    async listIssuers() {
      const { rows } = await query<{ issuer: string }>(
        'SELECT issuer FROM gatehouse_issuers ORDER BY recorded_at, issuer',
      )
      return rows.map((row) => row.issuer)
    },
    async takeLease(name, holder, now, ttlMs) {
      // The upsert inserts or locks the row in one statement: of concurrent takers, one changes it;
      // the others then see it unexpired and another holder's, and change nothing.
      return (
        (await changed(takeLeaseQuery('$1', '$2', '$3', '$4'), [name, holder, now + ttlMs, now])) >
        0
      )
    },
    async listAudit({ limit, before }) {
      const { rows } = await query<AuditRow>(
        'SELECT * FROM gatehouse_audit WHERE id < $1 ORDER BY id DESC LIMIT $2',
        [before ?? Number.MAX_SAFE_INTEGER, limit],
      )
      return rows.map(toAuditEvent)
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
    async updateThrottles(keys, update) {
      // Not durable: a login makes a few of these, and waiting for the disk at each commit made it
      // slower than its password check on PostgreSQL. A server crash may forget the last few hundred
      // milliseconds of counts (a few attempts), as Redis, the other counter store, may.
      // Two round trips for all the counters: their locks with the transaction's start, their writes
      // with its commit. Locked in key order, so two updates of the same keys cannot deadlock.
      const literals = new Map(keys.map((key) => [key, pg.escapeLiteral(key)]))
      const prune = ++throttleUpdates % THROTTLE_PRUNE_EVERY === 0
      return inTwoRoundTrips(pool, lockThrottleRowsQuery([...literals.values()].sort()), (rows) => {
        const byKey = new Map(
          (rows as (ThrottleRow & { key: string })[]).map((row) => [row.key, row]),
        )
        const now = Date.now()
        // The placeholder a first attempt inserts has expired at 0: it reads as no counter.
        const { states, result } = update(
          keys.map((key) => {
            const row = byKey.get(key)
            return row && row.expires_at > now ? toThrottleState(row) : undefined
          }),
        )
        const writes = keys.map((key, index) => {
          const state = states[index]
          const literalKey = literals.get(key)!
          return state
            ? `UPDATE gatehouse_throttle SET count = ${integer(state.count)}, window_start = ${integer(state.windowStart)}, blocked_until = ${integer(state.blockedUntil)}, strikes = ${integer(state.strikes)}, expires_at = ${integer(state.expiresAt)} WHERE key = ${literalKey}`
            : `DELETE FROM gatehouse_throttle WHERE key = ${literalKey}`
        })
        // Expired counters are forgotten a batch at a time, on every THROTTLE_PRUNE_EVERY-th update (a
        // round trip less for the others). Rows other transactions hold are skipped, never waited for:
        // two updates pruning each other's rows could otherwise deadlock.
        if (prune)
          writes.push(`DELETE FROM gatehouse_throttle WHERE key IN (
               SELECT key FROM gatehouse_throttle WHERE expires_at < ${integer(now)} ORDER BY expires_at LIMIT ${100 * THROTTLE_PRUNE_EVERY} FOR UPDATE SKIP LOCKED)`)
        return { write: writes.join('; '), result }
      })
    },
    async listSigningKeys(now) {
      const { rows } = await query<KeyRow>(
        'SELECT * FROM gatehouse_signing_keys WHERE retire_at IS NULL OR retire_at > $1 ORDER BY created_at DESC, kid',
        [now],
      )
      return rows.map(toSigningKey)
    },
    async addSigningKey(key, retireOthersAt) {
      await transaction(async (client) => {
        // Rotations from two processes take turns, so the later one also retires the earlier one's key.
        // The mode blocks other writers of the table only, never its readers.
        await client.query('LOCK TABLE gatehouse_signing_keys IN SHARE ROW EXCLUSIVE MODE')
        await client.query(
          'UPDATE gatehouse_signing_keys SET retire_at = $1 WHERE retire_at IS NULL',
          [retireOthersAt],
        )
        await client.query(
          'INSERT INTO gatehouse_signing_keys (kid, algorithm, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)',
          [key.kid, key.algorithm, key.privateKey, key.publicJwk, key.createdAt],
        )
      })
    },
    async ping() {
      await query('SELECT 1')
    },
    poolStats() {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
    },
    async schemaVersion() {
      const { rows } = await query<{ version: number | null }>(
        'SELECT MAX(version) AS version FROM gatehouse_migrations',
      )
      return rows[0]?.version ?? 0
    },
    async changesSince(afterId, limit) {
      const { rows } = await query<ChangeRow>(
        'SELECT * FROM gatehouse_changes WHERE id > $1 ORDER BY id LIMIT $2',
        [afterId, limit],
        'gatehouse_changes_since',
      )
      return rows.map(toChange)
    },
    async latestChangeId() {
      const { rows } = await query<{ id: number | null }>(
        'SELECT MAX(id) AS id FROM gatehouse_changes',
      )
      return rows[0]?.id ?? 0
    },
    async changeIdBefore(at) {
      const { rows } = await query<{ id: number }>(
        'SELECT id FROM gatehouse_changes WHERE at < $1 ORDER BY at DESC, id DESC LIMIT 1',
        [at],
      )
      return rows[0]?.id ?? 0
    },
    async subscribeChanges(listener, onGap, options = {}) {
      const subscription = await listenForChanges({
        connectionString,
        schema,
        changesSince: (afterId, limit) => store.changesSince(afterId, limit),
        latestChangeId: () => store.latestChangeId(),
        listener,
        onGap,
        afterId: options.afterId,
      })
      subscriptions.add(subscription)
      return {
        get live() {
          return subscription.live
        },
        get cursor() {
          return subscription.pump.cursor
        },
        delivered: () => subscription.pump.delivered(),
        catchUp: () => subscription.catchUp(),
        // Notifications drive the pulls.
        pending: () => false,
        async close() {
          subscriptions.delete(subscription)
          await subscription.close()
        },
      }
    },
    async pruneChanges(before) {
      return deleteInBatches(
        `DELETE FROM gatehouse_changes WHERE id IN (
           SELECT id FROM gatehouse_changes WHERE at < $1 ORDER BY id LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
        [before],
      )
    },
    async hasBcryptHashes() {
      const { rows } = await query<{ present: boolean }>(BCRYPT_PRESENT_QUERY)
      return rows[0]?.present === true
    },
    async findUserByEmail(email) {
      const { rows } = await query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1) ORDER BY email = $1 DESC, id LIMIT 1`,
        [email],
      )
      return rows[0] && toUserRecord(rows[0])
    },
    async setEmailVerified(userId, email) {
      return (
        (await changed('UPDATE users SET email_verified = true WHERE id = $1 AND email = $2', [
          userId,
          email,
        ])) > 0
      )
    },
    async createOneTimeToken(token) {
      await query(
        'INSERT INTO gatehouse_one_time_tokens (token_hash, purpose, user_id, binding, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [
          token.tokenHash,
          token.purpose,
          token.userId,
          token.binding,
          token.createdAt,
          token.expiresAt,
        ],
      )
    },
    async findOneTimeToken(tokenHash) {
      const { rows } = await query<OneTimeTokenRow>(
        'SELECT * FROM gatehouse_one_time_tokens WHERE token_hash = $1',
        [tokenHash],
      )
      return rows[0] && toOneTimeToken(rows[0])
    },
    async useOneTimeToken(tokenHash, now) {
      return (
        (await changed(
          'UPDATE gatehouse_one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1',
          [now, tokenHash],
        )) === 1
      )
    },
    async voidOneTimeTokens(userId, purpose, now) {
      return changed(
        'UPDATE gatehouse_one_time_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL',
        [now, userId, purpose],
      )
    },
    async enqueueMail(message, now) {
      const { rows } = await query<{ id: number }>(
        'INSERT INTO gatehouse_outbox (kind, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $3) RETURNING id',
        [message.kind, message.payload, now],
      )
      return Number(rows[0]!.id)
    },
    async claimMail(now, limit, claimUntil) {
      // SKIP LOCKED: instances claiming at once take different messages, and never wait on each other.
      const { rows } = await query<OutboxRow>(
        `UPDATE gatehouse_outbox SET attempts = attempts + 1, next_attempt_at = $1
         WHERE id IN (SELECT id FROM gatehouse_outbox WHERE sent_at IS NULL AND failed_at IS NULL
           AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, payload, attempts`,
        [claimUntil, now, limit],
      )
      return rows.map(toOutboxMessage)
    },
    async settleMail(id, outcome) {
      const columns = outboxOutcomeColumns(outcome)
      await query(
        `UPDATE gatehouse_outbox SET sent_at = $2, failed_at = $3, last_error = $4,
           next_attempt_at = COALESCE($5, next_attempt_at),
           payload = CASE WHEN $6 THEN NULL ELSE payload END
         WHERE id = $1`,
        [id, columns.sentAt, columns.failedAt, columns.error, columns.retryAt, columns.erase === 1],
      )
    },
    async pruneMail(before) {
      const tokens = await changed('DELETE FROM gatehouse_one_time_tokens WHERE expires_at < $1', [
        before,
      ])
      return (
        tokens +
        (await changed('DELETE FROM gatehouse_outbox WHERE sent_at < $1 OR failed_at < $1', [
          before,
        ]))
      )
    },
    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.close()))
      await pool.end()
    },
  }
  return store
}

/**
 * How long a lost LISTEN connection waits before reconnecting: doubling from the first, up to the last.
 * Meanwhile every lookup reads the database, which is correct, only slower.
 */
const RECONNECT_MS = [1_000, 5_000] as const

/**
 * A dedicated connection (LISTEN holds it, so it cannot come from the pool) that pulls the feed on each
 * notification for this schema, and on loss reports a gap, reconnects, and pulls what it missed.
 */
async function listenForChanges(options: {
  connectionString: string
  schema: string
  changesSince: (afterId: number, limit: number) => Promise<Change[]>
  latestChangeId: () => Promise<number>
  listener: ChangeListener
  onGap: GapListener
  afterId: number | undefined
}): Promise<{
  live: boolean
  pump: ChangePump
  catchUp(): Promise<void>
  close(): Promise<void>
}> {
  let closed = false
  let client: pg.Client | undefined
  let retry: NodeJS.Timeout | undefined
  let delay: number = RECONNECT_MS[0]
  // Notifications may come before the pump exists: it then starts from a point read after them.
  let pump: ChangePump | undefined

  const connect = async (): Promise<pg.Client> => {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: `gatehouse-changes:${options.schema}`.slice(0, 63),
      keepAlive: true,
      connectionTimeoutMillis: 3_000,
    })
    next.on('error', (error) => lost(next, error))
    next.on('end', () => lost(next, new Error('the change-feed connection ended')))
    next.on('notification', (message) => {
      // Every schema of the database shares the channel; only this one's feed matters here.
      if (message.payload === options.schema) void pump?.pull()
    })
    try {
      await next.connect()
      await next.query(`LISTEN ${CHANGE_CHANNEL}`)
    } catch (error) {
      await next.end().catch(() => undefined)
      throw error
    }
    return next
  }

  const lost = (which: pg.Client, error: Error): void => {
    if (closed || which !== client) return
    client = undefined
    void which.end().catch(() => undefined)
    pump?.down(error)
    schedule()
  }

  const schedule = (): void => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = undefined
      connect().then(
        (next) => {
          if (closed) return void next.end().catch(() => undefined)
          client = next
          delay = RECONNECT_MS[0]
          // Listening again before reading: whatever commits from here on is notified or read now.
          void pump?.pull()
        },
        () => {
          delay = Math.min(delay * 2, RECONNECT_MS[1])
          schedule()
        },
      )
    }, delay)
    retry.unref()
  }

  // LISTEN before the starting point is read, so nothing committed in between is missed.
  client = await connect()
  let started: ChangePump
  try {
    started = pump = createChangePump({
      changesSince: options.changesSince,
      afterId: options.afterId ?? (await options.latestChangeId()),
      listener: options.listener,
      onGap: options.onGap,
    })
  } catch (error) {
    closed = true
    await client.end().catch(() => undefined)
    throw error
  }
  return {
    get live() {
      return started.live
    },
    pump: started,
    catchUp: () => started.pull(),
    async close() {
      closed = true
      clearTimeout(retry)
      await client?.end().catch(() => undefined)
      client = undefined
    },
  }
}

async function migrate(client: Query): Promise<void> {
  // Instances starting together migrate one at a time: the lock is per schema and ends with the
  // transaction. It comes first, so even the CREATE TABLE IF NOT EXISTS below never races.
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [
    ADVISORY_LOCK_CLASS,
  ])
  await client.query(`CREATE TABLE IF NOT EXISTS gatehouse_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
  const { rows } = await client.query<{ version: number | null }>(
    'SELECT MAX(version) AS version FROM gatehouse_migrations',
  )
  const current = rows[0]?.version ?? 0
  if (current > LATEST_SCHEMA_VERSION) {
    throw new ConfigError(
      `the database is at schema version ${current}, newer than this Gatehouse knows (${LATEST_SCHEMA_VERSION}); upgrade Gatehouse`,
    )
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue
    await migration.postgres(client)
    await client.query('INSERT INTO gatehouse_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ])
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

/**
 * Locks the counters' rows for this transaction, creating them first when absent. SELECT ... FOR UPDATE
 * cannot lock a row that does not exist yet (two first attempts would both start from zero), and
 * INSERT ... ON CONFLICT DO NOTHING followed by it can find the row deleted in between (forgotten or
 * pruned) under load. An upsert is guaranteed to insert or lock, in one statement; its no-op update
 * returns the row as it was.
 */
function lockThrottleRowsQuery(literalKeys: readonly string[]): string {
  const values = literalKeys.map((key) => `(${key}, 0, 0, 0, 0, 0)`).join(', ')
  return `INSERT INTO gatehouse_throttle AS t (key, count, window_start, blocked_until, strikes, expires_at) VALUES ${values}
     ON CONFLICT (key) DO UPDATE SET key = t.key RETURNING t.key, t.count, t.window_start, t.blocked_until, t.strikes, t.expires_at`
}

/** A number written into SQL text: only ever a finite integer. */
function integer(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`)
  return String(Math.trunc(value))
}

/** The throttle's expired counters are pruned on one update in this many (100 rows each time per update). */
export const THROTTLE_PRUNE_EVERY = 8

/** Runs `work` in a transaction on one pooled connection: committed, or rolled back and rethrown. */
async function inTransaction<T>(pool: pg.Pool, work: (client: Query) => Promise<T>): Promise<T> {
  return withConnection(pool, async (client) => {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  })
}

/**
 * A read-modify-write transaction that does not wait for the disk (synchronous_commit off for it
 * only: a server crash may lose it, never corrupt it), in two round trips: its start with `read`
 * (whose rows `modify` gets), then modify's `write` with the commit. Both are simple queries, which
 * take no parameters: values go in as literals (pg.escapeLiteral, integer()).
 */
async function inTwoRoundTrips<T>(
  pool: pg.Pool,
  read: string,
  modify: (rows: unknown[]) => { write: string; result: T },
): Promise<T> {
  return withConnection(pool, async (client) => {
    const results = (await client.query(
      `BEGIN; SET LOCAL synchronous_commit TO off; ${read}`,
    )) as unknown as pg.QueryResult[]
    const { write, result } = modify(results.at(-1)!.rows)
    await client.query(`${write}; COMMIT`)
    return result
  })
}

/**
 * Runs `run` on one pooled connection, rolling back what it left open on failure and retrying it on a
 * deadlock or serialization failure; errors come out as the store's.
 */
async function withConnection<T>(
  pool: pg.Pool,
  run: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw toStoreError(error)
    }
    // A connection that breaks while checked out reports here, between queries; unheard, it would crash the process.
    let broken: Error | undefined
    const onError = (error: Error): void => {
      broken = error
    }
    client.on('error', onError)
    try {
      return await run(client)
    } catch (error) {
      // A connection whose state is unknown is closed rather than handed to the next caller.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken ??= rollbackError))
      if (
        attempt < MAX_ATTEMPTS &&
        error instanceof pg.DatabaseError &&
        RETRIED_SQLSTATES.has(error.code ?? '')
      )
        continue
      throw toStoreError(error)
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }
}

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])
/** Server shutting down (admin, crash), not accepting connections yet, or out of connection slots. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
/** pg and pg-pool report a lost or never-made connection with these plain errors. */
const CONNECTION_MESSAGES = new Set([
  'timeout exceeded when trying to connect',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'Client has encountered a connection error and is not queryable',
])

/** Connection-level failures become DatabaseUnavailable (HTTP 503); anything else is left as it is. */
export function toStoreError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof GatehouseError) return error
  const code = (error as { code?: unknown }).code
  const connectionLevel =
    (typeof code === 'string' &&
      (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) ||
    CONNECTION_MESSAGES.has(error.message)
  if (!connectionLevel) return error
  // Node reports a refused connection to several addresses (localhost: ::1 and 127.0.0.1) without a message.
  return new DatabaseUnavailable(error.message || String(code), { cause: error })
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
