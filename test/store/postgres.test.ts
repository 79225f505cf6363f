import { createServer } from 'node:net'
import type pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ConfigError, DatabaseUnavailable } from '../../src/errors.js'
import type { Store } from '../../src/store/contract.js'
import { openStore } from '../../src/store/open.js'
import { LATEST_SCHEMA_VERSION, migrations } from '../../src/store/migrations/index.js'
import { openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js'
import { toStoreError } from '../../src/store/postgres/store-errors.js'
import { THROTTLE_PRUNE_EVERY } from '../../src/store/postgres/throttle.js'
import {
  freshSchema,
  relay,
  skipPostgres,
  TEST_DATABASE_URL,
  urlWithSchema,
} from '../support/postgres.js'
import { storeContract } from './contract/index.js'
import { updateThrottle } from './contract/throttle.js'

async function openTemp(
  url: string,
  options: PostgresStoreOptions = { poolSize: 4 },
): Promise<Store> {
  const store = await openPostgresStore(url, options)
  onTestFinished(() => store.close())
  return store
}

describe.skipIf(skipPostgres)('PostgreSQL', () => {
  storeContract(
    'PostgreSQL',
    async () => openTemp((await freshSchema()).url),
    async () => {
      const { schema, url, admin } = await freshSchema()
      const store = await openTemp(url)
      const sql = async (text: string): Promise<void> => {
        const client = await admin.connect()
        try {
          await client.query(`SET search_path TO ${schema}`)
          await client.query(text)
        } finally {
          await client.query('RESET search_path').catch(() => undefined)
          client.release()
        }
      }
      return { store, sql }
    },
  )

  /** The table as FastAPI + SQLAlchemy's tutorial model creates it on PostgreSQL. */
  const SQLALCHEMY_SCHEMA = `
    CREATE TABLE users (
      id SERIAL NOT NULL,
      username VARCHAR,
      full_name VARCHAR,
      email VARCHAR,
      hashed_password VARCHAR,
      disabled BOOLEAN,
      PRIMARY KEY (id)
    );
    CREATE INDEX ix_users_id ON users (id);
    CREATE UNIQUE INDEX ix_users_email ON users (email);
    CREATE UNIQUE INDEX ix_users_username ON users (username);`

  describe('PostgreSQL store', () => {
    it('forgets expired throttle counters on the way, a batch every THROTTLE_PRUNE_EVERY updates', async () => {
      const { schema, url, admin } = await freshSchema()
      const store = await openTemp(url)
      const keep = { count: 1, windowStart: 0, blockedUntil: 0, strikes: 0 }
      for (let index = 0; index < 50; index++)
        await updateThrottle(store, `old-${index}`, () => ({
          state: { ...keep, expiresAt: Date.now() - 1_000 },
          result: undefined,
        }))
      await updateThrottle(store, 'live', () => ({
        state: { ...keep, expiresAt: Date.now() + 60_000 },
        result: undefined,
      }))
      // The 50 expired counters are gone after at most THROTTLE_PRUNE_EVERY more updates; the live one stays.
      for (let index = 0; index < THROTTLE_PRUNE_EVERY; index++)
        await updateThrottle(store, 'live', (state) => ({
          state: state ?? null,
          result: undefined,
        }))
      const { rows } = await admin.query<{ key: string }>(
        `SELECT key FROM ${schema}.gatehouse_throttle`,
      )
      expect(rows.map((row) => row.key)).toEqual(['live'])
    })

    it('opens a users table written by SQLAlchemy, keeping its columns, rows and indexes', async () => {
      const { schema, url, admin } = await freshSchema()
      await admin.query(
        `SET search_path TO ${schema}; ${SQLALCHEMY_SCHEMA}; INSERT INTO users (username, hashed_password, disabled) VALUES ('johndoe', '$2b$12$hash', NULL); RESET search_path`,
      )
      const store = await openTemp(url)
      expect(await store.findUserByUsername('johndoe')).toMatchObject({
        username: 'johndoe',
        disabled: false,
        hashedPassword: '$2b$12$hash',
        scopes: null,
      })
      await expect(
        store.createUser({ username: 'x', email: null, hashedPassword: 'h' }),
      ).resolves.toMatchObject({ id: 2 })
      await expect(
        store.createUser({ username: 'johndoe', hashedPassword: 'h' }),
      ).rejects.toMatchObject({ field: 'username' })

      const columns = await admin.query<{ column_name: string }>(
        'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
        [schema, 'users'],
      )
      expect(columns.rows.map((row) => row.column_name)).toEqual([
        'id',
        'username',
        'full_name',
        'email',
        'hashed_password',
        'disabled',
        'scopes',
        'username_key',
        'credential_version',
        'email_verified',
      ])
      const indexes = await admin.query<{ indexname: string }>(
        'SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2',
        [schema, 'users'],
      )
      expect(indexes.rows.map((row) => row.indexname)).not.toContain('gatehouse_users_username')
      // The FastAPI app's own inserts (its columns only) keep working.
      await admin.query(
        `INSERT INTO ${schema}.users (username, full_name, email, hashed_password, disabled) VALUES ('jane', NULL, NULL, 'h', false)`,
      )
    })

    it('adds a unique username index to a table that has none', async () => {
      const { schema, url, admin } = await freshSchema()
      await admin.query(
        `CREATE TABLE ${schema}.users (id SERIAL PRIMARY KEY, username VARCHAR, full_name VARCHAR, email VARCHAR, hashed_password VARCHAR, disabled BOOLEAN)`,
      )
      await openTemp(url)
      const indexes = await admin.query<{ indexdef: string }>(
        'SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2',
        [schema, 'gatehouse_users_username'],
      )
      expect(indexes.rows[0]?.indexdef).toMatch(/CREATE UNIQUE INDEX .* \(username\)/)
    })

    it('creates the tutorial table with unique username and email, times as BIGINT', async () => {
      const { schema, url, admin } = await freshSchema()
      await openTemp(url)
      const types = await admin.query<{
        table_name: string
        column_name: string
        data_type: string
      }>(
        `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND column_name IN ('disabled', 'created_at', 'expires_at')`,
        [schema],
      )
      expect(
        new Set(types.rows.map((row) => `${row.table_name}.${row.column_name}:${row.data_type}`)),
      ).toEqual(
        new Set([
          'users.disabled:boolean',
          'gatehouse_sessions.created_at:bigint',
          'gatehouse_sessions.expires_at:bigint',
          'gatehouse_signing_keys.created_at:bigint',
          'gatehouse_throttle.expires_at:bigint',
          'gatehouse_leases.expires_at:bigint',
          'gatehouse_totp.created_at:bigint',
          'gatehouse_mfa_tokens.created_at:bigint',
          'gatehouse_mfa_tokens.expires_at:bigint',
          'gatehouse_one_time_tokens.created_at:bigint',
          'gatehouse_one_time_tokens.expires_at:bigint',
          'gatehouse_outbox.created_at:bigint',
          'gatehouse_clients.created_at:bigint',
        ]),
      )
    })

    it('migrates once, also when instances open the database at the same time', async () => {
      const { schema, url, admin } = await freshSchema()
      const stores = await Promise.all(
        Array.from({ length: 5 }, () => openTemp(url, { poolSize: 1 })),
      )
      await openTemp(url)
      const applied = await admin.query<{ version: number }>(
        `SELECT version FROM ${schema}.gatehouse_migrations ORDER BY version`,
      )
      expect(applied.rows.map((row) => row.version)).toEqual(migrations.map((m) => m.version))
      expect(await stores[0]!.schemaVersion()).toBe(LATEST_SCHEMA_VERSION)
    })

    it('refuses a database migrated by a newer Gatehouse', async () => {
      const { schema, url, admin } = await freshSchema()
      await (await openPostgresStore(url)).close()
      await admin.query(
        `INSERT INTO ${schema}.gatehouse_migrations (version, name) VALUES (999, 'future')`,
      )
      await expect(openPostgresStore(url)).rejects.toThrow(ConfigError)
      await expect(openPostgresStore(url)).rejects.toThrow(/schema version 999/)
    })

    it('keeps times above 2^31 exact, as numbers', async () => {
      const store = await openTemp((await freshSchema()).url)
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const createdAt = 4_102_444_800_123 // 2100-01-01
      await store.createSession({
        id: 's',
        userId: user.id,
        scope: ['me'],
        createdAt,
        expiresAt: createdAt + 1,
        userAgent: null,
        ip: null,
        refreshTokenHash: 'r',
      })
      expect((await store.findRefreshToken('r'))?.session).toMatchObject({
        createdAt,
        lastUsedAt: createdAt,
        expiresAt: createdAt + 1,
      })
      expect((await store.findTokenOwner('alice', 's'))?.session).toMatchObject({
        revokedAt: null,
        expiresAt: createdAt + 1,
      })
    })

    /** A connection of another program, and a way to wait until one of ours is blocked by it. */
    async function otherProgram(admin: pg.Pool) {
      const other = await admin.connect()
      onTestFinished(() => other.release())
      const pid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid
      const blocking = () =>
        expect
          .poll(
            async () =>
              (
                await admin.query(
                  'SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
                  [pid],
                )
              ).rowCount,
            { timeout: 5_000 },
          )
          .toBe(1)
      return { other, blocking }
    }

    const session = (userId: number, id: string) => ({
      id,
      userId,
      scope: ['me'],
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      userAgent: null,
      ip: null,
      refreshTokenHash: `r-${id}`,
    })

    it('makes a login wait for a credential change in progress, then refuse to create its session', async () => {
      const { schema, url, admin } = await freshSchema()
      const store = await openTemp(url)
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'old' })
      const { other, blocking } = await otherProgram(admin)
      await other.query(
        `BEGIN; UPDATE ${schema}.users SET hashed_password = 'new' WHERE id = ${alice.id}`,
      )
      const login = store.createSessionIfCurrent(session(alice.id, 's1'), {
        hashedPassword: 'old',
        credentialVersion: alice.credentialVersion,
      })
      await blocking()
      await other.query('COMMIT')
      expect(await login).toBe(false)
      expect(await store.findRefreshToken('r-s1')).toBeUndefined()
    })

    it('makes a credential change wait for a login creating its session, then revoke it', async () => {
      const { schema, url, admin } = await freshSchema()
      const store = await openTemp(url)
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'old' })
      const { other, blocking } = await otherProgram(admin)
      // What createSessionIfCurrent does, held open: the row locked FOR SHARE, the session inserted.
      await other.query(`BEGIN; SET LOCAL search_path TO ${schema};
        SELECT 1 FROM users WHERE id = ${alice.id} FOR SHARE;
        INSERT INTO gatehouse_sessions (id, user_id, scope, created_at, last_used_at, expires_at)
          VALUES ('s1', ${alice.id}, 'me', 1, 1, ${Date.now() + 60_000})`)
      const reset = store.changeCredentials(
        alice.id,
        { hashedPassword: 'new' },
        { now: Date.now() },
      )
      await blocking()
      await other.query('COMMIT')
      expect(await reset).toBe(true)
      expect(await store.listActiveSessions(alice.id, Date.now())).toEqual([])
    })

    it('leaves no old-password session when logins and resets race from separate pools (processes)', async () => {
      const { url } = await freshSchema()
      const [logins, admins] = [await openTemp(url), await openTemp(url)]
      for (let round = 0; round < 20; round++) {
        const user = await logins.createUser({ username: `u${round}`, hashedPassword: 'old' })
        const verified = { hashedPassword: 'old', credentialVersion: user.credentialVersion }
        const results = await Promise.all([
          ...Array.from({ length: 4 }, (_, i) =>
            logins.createSessionIfCurrent(session(user.id, `s${round}-${i}`), verified),
          ),
          round % 2
            ? admins.changeCredentials(user.id, { hashedPassword: 'new' }, { now: Date.now() })
            : admins.changeCredentials(user.id, { disabled: true }, { now: Date.now() }),
        ])
        expect(results.at(-1)).toBe(true)
        expect(await logins.listActiveSessions(user.id, Date.now())).toEqual([])
      }
    })

    it('rotates a refresh token exactly once across separate pools (processes)', async () => {
      const { url } = await freshSchema()
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => openTemp(url, { poolSize: 3 })),
      )
      const alice = await stores[0]!.createUser({ username: 'alice', hashedPassword: 'h' })
      const now = Date.now()
      await stores[0]!.createSession({
        id: 's1',
        userId: alice.id,
        scope: ['me'],
        createdAt: now,
        expiresAt: now + 60_000,
        userAgent: null,
        ip: null,
        refreshTokenHash: 'r1',
      })
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          stores[i % 4]!.rotateRefreshToken('r1', `r2-${i}`, now),
        ),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
    })

    it('counts throttle attempts exactly across separate pools, first insert included', async () => {
      const { url } = await freshSchema()
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => openTemp(url, { poolSize: 3 })),
      )
      const bump = (store: Store) =>
        updateThrottle(store, 'fresh-key', (state) => {
          const count = (state?.count ?? 0) + 1
          return {
            state: {
              count,
              windowStart: 0,
              blockedUntil: 0,
              strikes: 0,
              expiresAt: Date.now() + 60_000,
            },
            result: count,
          }
        })
      const counts = await Promise.all(Array.from({ length: 24 }, (_, i) => bump(stores[i % 4]!)))
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1))
    })

    it('keeps counting while other updates forget and re-create the same counter', async () => {
      const store = await openTemp((await freshSchema()).url, { poolSize: 6 })
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          updateThrottle(store, 'k', (state) => {
            if (i % 3 === 0) return { state: null, result: 'forgot' }
            return {
              state: {
                count: (state?.count ?? 0) + 1,
                windowStart: 0,
                blockedUntil: 0,
                strikes: 0,
                expiresAt: Date.now() + 60_000,
              },
              result: 'counted',
            }
          }),
        ),
      )
      expect(outcomes.filter((outcome) => outcome === 'forgot')).toHaveLength(10)
    })

    it('runs a transaction again when PostgreSQL breaks a deadlock by aborting it', async () => {
      const { schema, url, admin } = await freshSchema()
      const store = await openTemp(url, { poolSize: 1 })
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const now = Date.now()
      await store.createSession({
        id: 's1',
        userId: alice.id,
        scope: ['me'],
        createdAt: now,
        expiresAt: now + 60_000,
        userAgent: null,
        ip: null,
        refreshTokenHash: 'r1',
      })
      // Another client takes the session, then the token: the opposite order of a rotation.
      const other = await admin.connect()
      onTestFinished(() => other.release())
      await other.query(
        `BEGIN; SET LOCAL deadlock_timeout = '10s'; UPDATE ${schema}.gatehouse_sessions SET ip = ip WHERE id = 's1'`,
      )
      const rotation = store.rotateRefreshToken('r1', 'r2', now)
      await expect
        .poll(
          async () =>
            (
              await admin.query(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = 'gatehouse' AND wait_event_type = 'Lock'",
              )
            ).rowCount,
          { timeout: 5_000 },
        )
        .toBe(1)
      // This closes the cycle; the rotation's side detects it first (its deadlock_timeout is shorter) and is aborted.
      await other.query(
        `UPDATE ${schema}.gatehouse_refresh_tokens SET issued_at = issued_at WHERE token_hash = 'r1'`,
      )
      await other.query('ROLLBACK')
      expect(await rotation).toBe(true)
      expect((await store.findRefreshToken('r2'))?.token.sessionId).toBe('s1')
    })

    it('retires the other keys of concurrent rotations, leaving one current key', async () => {
      const { url } = await freshSchema()
      const stores = await Promise.all(
        Array.from({ length: 3 }, () => openTemp(url, { poolSize: 2 })),
      )
      const now = Date.now()
      await Promise.all(
        stores.flatMap((store, i) =>
          [0, 1].map((j) =>
            store.addSigningKey(
              {
                kid: `k${i}${j}`,
                algorithm: 'EdDSA',
                privateKey: 'pem',
                publicJwk: '{}',
                createdAt: now,
                retireAt: null,
              },
              now + 1000,
            ),
          ),
        ),
      )
      const keys = await stores[0]!.listSigningKeys(now)
      expect(keys).toHaveLength(6)
      expect(keys.filter((key) => key.retireAt === null)).toHaveLength(1)
    })
  })

  describe('an unreachable PostgreSQL', () => {
    it('fails to open with DatabaseUnavailable', async () => {
      const refused = new URL(TEST_DATABASE_URL)
      refused.host = '127.0.0.1:1'
      await expect(openStore(refused.toString())).rejects.toBeInstanceOf(DatabaseUnavailable)
    })

    it('refuses a database that does not exist with a ConfigError, not as unavailable', async () => {
      const missing = new URL(TEST_DATABASE_URL)
      missing.pathname = '/gatehouse_no_such_database'
      await expect(openStore(missing.toString())).rejects.toThrow(
        /^DATABASE_URL: cannot use the PostgreSQL database: .*does not exist/,
      )
    })

    it('fails fast with DatabaseUnavailable when the server never answers', async () => {
      const silent = createServer(() => undefined)
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      onTestFinished(() => void silent.close())
      const url = new URL(TEST_DATABASE_URL)
      url.host = `127.0.0.1:${(silent.address() as { port: number }).port}`
      const started = Date.now()
      await expect(
        openPostgresStore(url.toString(), { connectionTimeoutMillis: 300 }),
      ).rejects.toBeInstanceOf(DatabaseUnavailable)
      // Without the timeout it would wait for ever; the margin is for a loaded machine.
      expect(Date.now() - started).toBeLessThan(10_000)
    })

    it('turns a connection lost under an open store into DatabaseUnavailable, and recovers', async () => {
      const { schema } = await freshSchema()
      const link = await relay()
      const store = await openTemp(link.url(schema), { poolSize: 2, connectionTimeoutMillis: 500 })
      await store.createUser({ username: 'alice', hashedPassword: 'h' })
      link.cut()
      await expect(store.findUserByUsername('alice')).rejects.toBeInstanceOf(DatabaseUnavailable)
      await expect(store.rotateRefreshToken('r', 'r2', Date.now())).rejects.toBeInstanceOf(
        DatabaseUnavailable,
      )
      await expect(
        updateThrottle(store, 'k', () => ({ state: null, result: 0 })),
      ).rejects.toBeInstanceOf(DatabaseUnavailable)
      // A new store on the same schema (the server is back) sees the data.
      const again = await openTemp(urlWithSchema(schema))
      expect((await again.findUserByUsername('alice'))?.username).toBe('alice')
    })

    it('reports a connection the server terminates mid-query (57P01) as DatabaseUnavailable', async () => {
      const { schema, url, admin } = await freshSchema()
      const store = await openTemp(url, { poolSize: 1 })
      await updateThrottle(store, 'k', () => ({
        state: {
          count: 1,
          windowStart: 0,
          blockedUntil: 0,
          strikes: 0,
          expiresAt: Date.now() + 60_000,
        },
        result: 0,
      }))
      // Hold the counter's row so that the store's next update waits on it, then end that backend.
      const holder = await admin.connect()
      onTestFinished(() => holder.release())
      await holder.query(
        `BEGIN; SELECT * FROM ${schema}.gatehouse_throttle WHERE key = 'k' FOR UPDATE`,
      )
      const waiting = updateThrottle(store, 'k', (state) => ({
        state: state ?? null,
        result: state,
      }))
      await expect
        .poll(
          async () =>
            (
              await admin.query(
                "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'gatehouse' AND wait_event_type = 'Lock'",
              )
            ).rowCount,
          { timeout: 5_000 },
        )
        .toBe(1)
      await expect(waiting).rejects.toMatchObject({
        code: 'database_unavailable',
        reason: expect.stringMatching(/terminat/) as unknown,
      })
      await holder.query('ROLLBACK')
      // The pool drops the dead connection and opens a new one.
      expect(
        (await updateThrottle(store, 'k', (state) => ({ state: state ?? null, result: state })))
          ?.count,
      ).toBe(1)
    })
  })
})

describe('PostgreSQL error classification', () => {
  const coded = (message: string, code: string) => Object.assign(new Error(message), { code })
  it.each([
    [coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    [coded('read ECONNRESET', 'ECONNRESET')],
    [coded('terminating connection due to administrator command', '57P01')],
    [coded('connection failure', '08006')],
    [coded('sorry, too many clients already', '53300')],
    [new Error('timeout exceeded when trying to connect')],
    [new Error('Connection terminated unexpectedly')],
  ])('maps %s to DatabaseUnavailable', (error) => {
    expect(toStoreError(error)).toBeInstanceOf(DatabaseUnavailable)
  })

  it('leaves statement errors alone', () => {
    const duplicate = coded('duplicate key value violates unique constraint', '23505')
    expect(toStoreError(duplicate)).toBe(duplicate)
    const syntax = coded('syntax error', '42601')
    expect(toStoreError(syntax)).toBe(syntax)
  })
})
