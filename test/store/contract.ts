// The store contract: every driver (SQLite, PostgreSQL) runs these same tests.
import { describe, expect, it } from 'vitest'
import { DuplicateUser, InvalidInput } from '../../src/errors.js'
import {
  AUDIT_DELETE_FLOOR_MS,
  SESSION_PRUNE_GRACE_MS,
  type NewSession,
  type Store,
  type ThrottleState,
  type ThrottleStore,
} from '../../src/store/contract.js'
import { changeFeedContract } from './change-feed-contract.js'

/** A store, and a way to write its database as another program would (the FastAPI app, an operator). */
export interface StoreWithSql {
  store: Store
  /** Runs SQL text, without parameters, on another connection to the same database. */
  sql: (text: string) => Promise<void>
}

const HOUR = 3_600_000

function newSession(
  userId: number,
  id: string,
  refreshTokenHash: string,
  createdAt = Date.now(),
): NewSession {
  return {
    id,
    userId,
    scope: ['me', 'items'],
    createdAt,
    expiresAt: createdAt + 24 * HOUR,
    userAgent: 'agent',
    ip: '127.0.0.1',
    refreshTokenHash,
  }
}

/** One counter's update: updateThrottles with one key. */
export function updateThrottle<T>(
  store: ThrottleStore,
  key: string,
  update: (state: ThrottleState | undefined) => { state: ThrottleState | null; result: T },
): Promise<T> {
  return store.updateThrottles([key], ([state]) => {
    const { state: next, result } = update(state)
    return { states: [next], result }
  })
}

/** The throttle-counter part of the contract, which Redis also implements. */
export function throttleContract(name: string, open: () => Promise<ThrottleStore>): void {
  describe(`${name} throttle counters`, () => {
    it('updates several counters in one atomic update, named in any order, without deadlock', async () => {
      const store = await open()
      const [a, b] = [`a-${Math.random()}`, `b-${Math.random()}`]
      const read = (keys: string[]) =>
        store.updateThrottles(keys, (states) => ({
          states: states.map((state) => state ?? null),
          result: states.map((state) => state?.count),
        }))
      const bump = (keys: string[]) =>
        store.updateThrottles(keys, (states) => ({
          states: states.map((state) => ({
            count: (state?.count ?? 0) + 1,
            windowStart: 0,
            blockedUntil: 0,
            strikes: 0,
            expiresAt: Date.now() + HOUR,
          })),
          result: undefined,
        }))
      await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? [a, b] : [b, a])))
      expect(await read([a, b])).toEqual([20, 20])
      expect(await read([b, a])).toEqual([20, 20])
      await store.updateThrottles([b, a], ([stateB]) => ({
        states: [stateB ?? null, null],
        result: undefined,
      }))
      expect(await read([a, b])).toEqual([undefined, 20])
    })

    it('updates throttle counters atomically, and forgets them on request or expiry', async () => {
      const store = await open()
      const k = `k-${Math.random()}`
      const bump = (key: string) =>
        updateThrottle(store, key, (state) => {
          const count = (state?.count ?? 0) + 1
          const next: ThrottleState = {
            count,
            windowStart: 0,
            blockedUntil: 0,
            strikes: 0,
            expiresAt: Date.now() + HOUR,
          }
          return { state: next, result: count }
        })
      const counts = await Promise.all(Array.from({ length: 20 }, () => bump(k)))
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      expect(
        await updateThrottle(store, k, (state) => ({ state: null, result: state?.count })),
      ).toBe(20)
      expect(
        await updateThrottle(store, k, (state) => ({ state: state ?? null, result: state })),
      ).toBeUndefined()
      await updateThrottle(store, `old-${k}`, () => ({
        state: { count: 1, windowStart: 0, blockedUntil: 0, strikes: 0, expiresAt: Date.now() - 1 },
        result: undefined,
      }))
      expect(
        await updateThrottle(store, `old-${k}`, (state) => ({
          state: state ?? null,
          result: state,
        })),
      ).toBeUndefined()
    })
  })
}

export function storeContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  throttleContract(name, open)
  hardeningContract(name, open, openWithSql)
  changeFeedContract(name, open, openWithSql)
  mfaContract(name, open)
  mailContract(name, open, openWithSql)

  describe(`${name} store contract`, () => {
    it('creates a user and finds it by exact username', async () => {
      const store = await open()
      const created = await store.createUser({
        username: 'alice',
        email: 'a@example.com',
        fullName: 'Alice',
        hashedPassword: 'h1',
      })
      expect(created).toMatchObject({
        username: 'alice',
        email: 'a@example.com',
        fullName: 'Alice',
        hashedPassword: 'h1',
        disabled: false,
      })
      expect(typeof created.id).toBe('number')
      expect(await store.findUserByUsername('alice')).toEqual(created)
      expect(await store.findUserByUsername('Alice')).toBeUndefined()
      expect(await store.findUserByUsername('nobody')).toBeUndefined()
    })

    it('defaults email and full name to null', async () => {
      const store = await open()
      const created = await store.createUser({ username: 'bare', hashedPassword: 'h' })
      expect(created).toMatchObject({ email: null, fullName: null, disabled: false })
    })

    it('refuses a duplicate username or email with DuplicateUser naming the field', async () => {
      const store = await open()
      await store.createUser({ username: 'alice', email: 'a@example.com', hashedPassword: 'h' })
      await expect(
        store.createUser({ username: 'alice', hashedPassword: 'h' }),
      ).rejects.toMatchObject({ field: 'username' })
      await expect(
        store.createUser({ username: 'other', email: 'a@example.com', hashedPassword: 'h' }),
      ).rejects.toBeInstanceOf(DuplicateUser)
      await expect(
        store.createUser({ username: 'other', email: 'a@example.com', hashedPassword: 'h' }),
      ).rejects.toMatchObject({ field: 'email' })
    })

    it('lists users in creation order', async () => {
      const store = await open()
      await store.createUser({ username: 'b', hashedPassword: 'h' })
      await store.createUser({ username: 'a', hashedPassword: 'h' })
      expect((await store.listUsers()).map((u) => u.username)).toEqual(['b', 'a'])
    })

    it('disables, enables and removes users, reporting unknown ones', async () => {
      const store = await open()
      await store.createUser({ username: 'alice', hashedPassword: 'h' })
      expect(await store.setDisabled('alice', true)).toBe(true)
      expect((await store.findUserByUsername('alice'))?.disabled).toBe(true)
      expect(await store.setDisabled('alice', false)).toBe(true)
      expect((await store.findUserByUsername('alice'))?.disabled).toBe(false)
      expect(await store.setDisabled('ghost', true)).toBe(false)
      expect(await store.removeUser('alice')).toBe(true)
      expect(await store.findUserByUsername('alice')).toBeUndefined()
      expect(await store.removeUser('alice')).toBe(false)
    })

    it('replaces a password hash only if it is unchanged', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'old' })
      expect(await store.replacePasswordHash(user.id, 'old', 'upgraded')).toBe(true)
      expect(await store.replacePasswordHash(user.id, 'old', 'stale-upgrade')).toBe(false)
      expect((await store.findUserByUsername('alice'))?.hashedPassword).toBe('upgraded')
    })

    it('finds users by id and keeps granted scopes', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      expect((await store.findUserById(user.id))?.username).toBe('alice')
      expect(await store.findUserById(user.id + 1000)).toBeUndefined()
      expect(user.scopes).toBeNull()
      expect(await store.setScopes('alice', ['items', 'me'])).toBe(true)
      expect((await store.findUserByUsername('alice'))?.scopes).toEqual(['items', 'me'])
      expect(await store.setScopes('alice', [])).toBe(true)
      expect((await store.findUserByUsername('alice'))?.scopes).toEqual([])
      expect(await store.setScopes('alice', null)).toBe(true)
      expect((await store.findUserByUsername('alice'))?.scopes).toBeNull()
      expect(await store.setScopes('ghost', null)).toBe(false)
    })

    it('creates sessions and finds a session with its user in one lookup', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const bob = await store.createUser({ username: 'bob', hashedPassword: 'h' })
      await store.createSession(newSession(alice.id, 's1', 'r1'))
      const found = await store.findTokenOwner('alice', 's1')
      expect(found).toEqual({
        user: {
          id: alice.id,
          username: 'alice',
          email: null,
          fullName: null,
          disabled: false,
          scopes: null,
          emailVerified: null,
        },
        session: { revokedAt: null, expiresAt: expect.any(Number) as unknown },
      })
      // The scopes the user holds now come with it (they bound what the token may still do).
      await store.setScopes('alice', ['me'])
      expect((await store.findTokenOwner('alice', 's1'))?.user.scopes).toEqual(['me'])
      expect((await store.findRefreshToken('r1'))?.session).toMatchObject({
        id: 's1',
        userId: alice.id,
        scope: ['me', 'items'],
        userAgent: 'agent',
        ip: '127.0.0.1',
      })
      // Another user's session, an unknown session or an unknown user matches nothing.
      await store.createSession(newSession(bob.id, 's2', 'r2'))
      expect((await store.findTokenOwner('bob', 's2'))?.user.id).toBe(bob.id)
      expect(await store.findTokenOwner('bob', 's1')).toBeUndefined()
      expect(await store.findTokenOwner('alice', 's2')).toBeUndefined()
      expect(await store.findTokenOwner('alice', 'nope')).toBeUndefined()
      expect(await store.findTokenOwner('ghost', 's1')).toBeUndefined()
      await store.revokeSession('s1', 1234)
      expect((await store.findTokenOwner('alice', 's1'))?.session?.revokedAt).toBe(1234)
    })

    it('rotates a refresh token exactly once, even when asked concurrently', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createSession(newSession(alice.id, 's1', 'r1'))
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.rotateRefreshToken('r1', `r2-${i}`, Date.now())),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      const spent = await store.findRefreshToken('r1')
      expect(spent?.token.spentAt).not.toBeNull()
      const winner = results.indexOf(true)
      expect((await store.findRefreshToken(`r2-${winner}`))?.token).toMatchObject({
        sessionId: 's1',
        spentAt: null,
      })
      expect(await store.findRefreshToken('r2-unknown')).toBeUndefined()
    })

    it('does not rotate tokens of a revoked session', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createSession(newSession(alice.id, 's1', 'r1'))
      expect(await store.revokeSession('s1', Date.now())).toBe(true)
      expect(await store.revokeSession('s1', Date.now())).toBe(false)
      expect(await store.rotateRefreshToken('r1', 'r2', Date.now())).toBe(false)
      expect((await store.findRefreshToken('r1'))?.session.revokedAt).not.toBeNull()
    })

    it('lists and revokes a user’s sessions', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const bob = await store.createUser({ username: 'bob', hashedPassword: 'h' })
      const now = Date.now()
      await store.createSession(newSession(alice.id, 'a1', 'ra1', now - 2 * HOUR))
      await store.createSession(newSession(alice.id, 'a2', 'ra2', now - HOUR))
      await store.createSession({ ...newSession(alice.id, 'a3', 'ra3', now - 30 * HOUR) })
      await store.createSession(newSession(bob.id, 'b1', 'rb1'))
      expect((await store.listActiveSessions(alice.id, now)).map((s) => s.id)).toEqual(['a1', 'a2'])
      expect(await store.revokeSession('b1', now, alice.id)).toBe(false)
      expect(await store.changeCredentials(alice.id, {}, { now, exceptSessionId: 'a2' })).toBe(true)
      expect((await store.listActiveSessions(alice.id, now)).map((s) => s.id)).toEqual(['a2'])
      expect((await store.listActiveSessions(bob.id, now)).map((s) => s.id)).toEqual(['b1'])
      expect(await store.changeCredentials(alice.id, {}, { now })).toBe(true)
      expect(await store.listActiveSessions(alice.id, now)).toEqual([])
    })

    it('forgets the sessions of a removed user', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createSession(newSession(alice.id, 's1', 'r1'))
      await store.removeUser('alice')
      expect(await store.findRefreshToken('r1')).toBeUndefined()
    })

    it('keeps signing keys until they retire, newest first', async () => {
      const store = await open()
      const now = Date.now()
      const key = (kid: string, createdAt: number) => ({
        kid,
        algorithm: 'EdDSA',
        privateKey: `pem-${kid}`,
        publicJwk: '{}',
        createdAt,
        retireAt: null,
      })
      await store.addSigningKey(key('k1', now - 2000), now + HOUR)
      await store.addSigningKey(key('k2', now - 1000), now + HOUR)
      const keys = await store.listSigningKeys(now)
      expect(keys.map((k) => k.kid)).toEqual(['k2', 'k1'])
      expect(keys[0]).toMatchObject({ retireAt: null, privateKey: 'pem-k2' })
      expect(keys[1]?.retireAt).toBe(now + HOUR)
      expect((await store.listSigningKeys(now + 2 * HOUR)).map((k) => k.kid)).toEqual(['k2'])
    })

    it('refuses look-alike usernames: other case, full-width or ligature forms', async () => {
      const store = await open()
      await store.createUser({ username: 'Alice', hashedPassword: 'h' })
      for (const lookAlike of ['alice', 'ALICE', 'ａｌｉｃｅ']) {
        await expect(
          store.createUser({ username: lookAlike, hashedPassword: 'h' }),
        ).rejects.toMatchObject({ field: 'username' })
      }
      await store.createUser({ username: 'ﬁnn', hashedPassword: 'h' })
      await expect(
        store.createUser({ username: 'finn', hashedPassword: 'h' }),
      ).rejects.toBeInstanceOf(DuplicateUser)
      expect(await store.findUserByUsername('alice')).toBeUndefined()
    })

    it('searches users by username, email or name, a page at a time', async () => {
      const store = await open()
      for (let i = 0; i < 5; i++)
        await store.createUser({
          username: `user${i}`,
          email: `u${i}@example.com`,
          fullName: i === 3 ? 'Ada 100%_Lovelace' : null,
          hashedPassword: 'h',
        })
      expect(await store.searchUsers({ limit: 2, offset: 0 })).toMatchObject({
        total: 5,
        users: [{ username: 'user0' }, { username: 'user1' }],
      })
      expect(
        (await store.searchUsers({ limit: 2, offset: 4 })).users.map((u) => u.username),
      ).toEqual(['user4'])
      expect(
        (await store.searchUsers({ q: 'U2@EXAMPLE', limit: 10, offset: 0 })).users.map(
          (u) => u.username,
        ),
      ).toEqual(['user2'])
      expect((await store.searchUsers({ q: 'lovelace', limit: 10, offset: 0 })).total).toBe(1)
      // Wildcards in the query are literal characters.
      expect(
        (await store.searchUsers({ q: '%_', limit: 10, offset: 0 })).users.map((u) => u.username),
      ).toEqual(['user3'])
      expect((await store.searchUsers({ q: '_', limit: 10, offset: 0 })).total).toBe(1)
    })

    it('updates profile fields, refusing a taken email', async () => {
      const store = await open()
      await store.createUser({ username: 'alice', email: 'a@example.com', hashedPassword: 'h' })
      await store.createUser({ username: 'bob', email: 'b@example.com', hashedPassword: 'h' })
      expect(await store.updateProfile('alice', { fullName: 'Alice L' })).toBe(true)
      expect(await store.findUserByUsername('alice')).toMatchObject({
        fullName: 'Alice L',
        email: 'a@example.com',
      })
      expect(await store.updateProfile('alice', { email: null })).toBe(true)
      expect((await store.findUserByUsername('alice'))?.email).toBeNull()
      await expect(store.updateProfile('alice', { email: 'b@example.com' })).rejects.toMatchObject({
        field: 'email',
      })
      expect(await store.updateProfile('ghost', { fullName: 'x' })).toBe(false)
    })

    it('appends audit events and lists them newest first, a page at a time', async () => {
      const store = await open()
      for (let i = 0; i < 5; i++) {
        await store.appendAudit({
          at: 1000 + i,
          type: 'login',
          outcome: i % 2 ? 'success' : 'bad_credentials',
          username: `u${i}`,
          ip: '127.0.0.1',
          userAgent: null,
          detail: null,
        })
      }
      const first = await store.listAudit({ limit: 2 })
      expect(first.map((e) => e.username)).toEqual(['u4', 'u3'])
      expect(first[0]).toMatchObject({
        at: 1004,
        type: 'login',
        outcome: 'bad_credentials',
        ip: '127.0.0.1',
        userAgent: null,
        detail: null,
      })
      const next = await store.listAudit({ limit: 10, before: first[1]!.id })
      expect(next.map((e) => e.username)).toEqual(['u2', 'u1', 'u0'])
    })
  })
}

/** Sessions from live credentials, username keys whoever writes, retention and leases (issue #12). */
function hardeningContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: live credentials and bounded growth`, () => {
    it('creates a session only while the verified hash and credential version still hold', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'old' })
      expect(alice.credentialVersion).toEqual(expect.any(Number))
      const verified = { hashedPassword: 'old', credentialVersion: alice.credentialVersion }
      expect(await store.createSessionIfCurrent(newSession(alice.id, 's1', 'r1'), verified)).toBe(
        true,
      )
      expect((await store.findRefreshToken('r1'))?.session.userId).toBe(alice.id)

      // A stale hash, a stale version, a disabled user, a removed user: no session, no error.
      expect(
        await store.createSessionIfCurrent(newSession(alice.id, 's2', 'r2'), {
          ...verified,
          hashedPassword: 'other',
        }),
      ).toBe(false)
      expect(
        await store.createSessionIfCurrent(newSession(alice.id, 's3', 'r3'), {
          ...verified,
          credentialVersion: verified.credentialVersion + 1,
        }),
      ).toBe(false)
      await store.setDisabled('alice', true)
      const disabled = (await store.findUserById(alice.id))!
      expect(
        await store.createSessionIfCurrent(newSession(alice.id, 's4', 'r4'), {
          hashedPassword: 'old',
          credentialVersion: disabled.credentialVersion,
        }),
      ).toBe(false)
      await store.removeUser('alice')
      expect(await store.createSessionIfCurrent(newSession(alice.id, 's5', 'r5'), verified)).toBe(
        false,
      )
      for (const token of ['r2', 'r3', 'r4', 'r5'])
        expect(await store.findRefreshToken(token)).toBeUndefined()
    })

    it('never lets a login that read the user before a disable and an enable create its session', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const readBefore = { hashedPassword: 'h', credentialVersion: alice.credentialVersion }
      expect(await store.setDisabled('alice', true)).toBe(true)
      expect(await store.setDisabled('alice', false)).toBe(true)
      const after = (await store.findUserById(alice.id))!
      expect(after.disabled).toBe(false)
      expect(after.credentialVersion).toBeGreaterThan(alice.credentialVersion)
      expect(await store.createSessionIfCurrent(newSession(alice.id, 's1', 'r1'), readBefore)).toBe(
        false,
      )
      // A write that leaves `disabled` as it was changes nothing.
      await store.setDisabled('alice', false)
      await store.setScopes('alice', ['me'])
      expect((await store.findUserById(alice.id))?.credentialVersion).toBe(after.credentialVersion)
    })

    it('bumps the credential version when another program flips `disabled` with plain SQL', async () => {
      const { store, sql } = await openWithSql()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await sql(`UPDATE users SET disabled = true WHERE id = ${alice.id}`)
      await sql(`UPDATE users SET disabled = false WHERE id = ${alice.id}`)
      expect((await store.findUserById(alice.id))?.credentialVersion).toBe(
        alice.credentialVersion + 2,
      )
      expect(
        await store.createSessionIfCurrent(newSession(alice.id, 's1', 'r1'), {
          hashedPassword: 'h',
          credentialVersion: alice.credentialVersion,
        }),
      ).toBe(false)
    })

    it('changes credentials and revokes the other sessions in one step', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'old' })
      const bob = await store.createUser({ username: 'bob', hashedPassword: 'h' })
      const now = Date.now()
      await store.createSession(newSession(alice.id, 'a1', 'ra1', now - HOUR))
      await store.createSession(newSession(alice.id, 'a2', 'ra2', now - HOUR))
      await store.createSession(newSession(bob.id, 'b1', 'rb1', now - HOUR))

      // Compare-and-set: a stale expected hash changes and revokes nothing.
      expect(
        await store.changeCredentials(
          alice.id,
          { hashedPassword: 'new', expectedHash: 'stale' },
          { now },
        ),
      ).toBe(false)
      expect((await store.listActiveSessions(alice.id, now)).map((s) => s.id)).toEqual(['a1', 'a2'])
      expect(await store.findUserById(alice.id)).toMatchObject({
        hashedPassword: 'old',
        credentialVersion: alice.credentialVersion,
      })

      expect(
        await store.changeCredentials(
          alice.id,
          { hashedPassword: 'new', expectedHash: 'old' },
          { now, exceptSessionId: 'a2' },
        ),
      ).toBe(true)
      const changed = (await store.findUserById(alice.id))!
      expect(changed.hashedPassword).toBe('new')
      expect(changed.credentialVersion).toBeGreaterThan(alice.credentialVersion)
      expect((await store.listActiveSessions(alice.id, now)).map((s) => s.id)).toEqual(['a2'])
      expect((await store.listActiveSessions(bob.id, now)).map((s) => s.id)).toEqual(['b1'])

      // Disabling without revoking leaves sessions alone; revoking without exception ends them all.
      expect(await store.changeCredentials(alice.id, { disabled: true }, undefined)).toBe(true)
      expect(await store.findUserById(alice.id)).toMatchObject({
        disabled: true,
        hashedPassword: 'new',
      })
      expect((await store.listActiveSessions(alice.id, now)).map((s) => s.id)).toEqual(['a2'])
      expect(await store.changeCredentials(alice.id, { disabled: false }, { now })).toBe(true)
      expect(await store.listActiveSessions(alice.id, now)).toEqual([])
      expect((await store.findUserById(alice.id))?.disabled).toBe(false)
      expect(await store.changeCredentials(alice.id + bob.id + 1000, {}, { now })).toBe(false)
    })

    it('leaves no session created with the old password when logins race a password reset', async () => {
      const store = await open()
      for (let round = 0; round < 15; round++) {
        const user = await store.createUser({ username: `u${round}`, hashedPassword: 'old' })
        const verified = { hashedPassword: 'old', credentialVersion: user.credentialVersion }
        const now = Date.now()
        const logins = Array.from({ length: 6 }, (_, i) =>
          store.createSessionIfCurrent(
            newSession(user.id, `s${round}-${i}`, `r${round}-${i}`, now),
            verified,
          ),
        )
        const reset = store.changeCredentials(user.id, { hashedPassword: 'new' }, { now })
        const more = Array.from({ length: 6 }, (_, i) =>
          store.createSessionIfCurrent(
            newSession(user.id, `t${round}-${i}`, `q${round}-${i}`, now),
            verified,
          ),
        )
        const [, reset_] = await Promise.all([Promise.all([...logins, ...more]), reset])
        expect(reset_).toBe(true)
        expect(await store.listActiveSessions(user.id, now)).toEqual([])
      }
    })

    it('gives rows another program inserted without a username key theirs before adding a user', async () => {
      const { store, sql } = await openWithSql()
      await store.createUser({ username: 'bob', hashedPassword: 'h' })
      // As the FastAPI app inserts: its own columns only, username_key left NULL.
      await sql(
        "INSERT INTO users (username, hashed_password) VALUES ('Carol', 'h'), ('Dave', 'h'), ('dave', 'h'), ('BOB', 'h')",
      )
      await expect(
        store.createUser({ username: 'carol', hashedPassword: 'h' }),
      ).rejects.toMatchObject({ field: 'username' })
      // Legacy look-alikes (Dave and dave, BOB beside bob) keep one key among them, and no crash.
      await expect(
        store.createUser({ username: 'erin', hashedPassword: 'h' }),
      ).resolves.toMatchObject({ username: 'erin' })
      for (const taken of ['DAVE', 'Bob'])
        await expect(
          store.createUser({ username: taken, hashedPassword: 'h' }),
        ).rejects.toBeInstanceOf(DuplicateUser)
      expect((await store.findUserByUsername('BOB'))?.username).toBe('BOB')
    })

    it('records the actor of audit events, null when not given', async () => {
      const store = await open()
      const event = {
        at: Date.now(),
        type: 'admin',
        outcome: 'disable',
        username: 'root',
        ip: null,
        userAgent: null,
        detail: 'bob',
      }
      await store.appendAudit({ ...event, actor: 'cli:operator' })
      await store.appendAudit(event)
      expect((await store.listAudit({ limit: 2 })).map((e) => e.actor)).toEqual([
        null,
        'cli:operator',
      ])
    })

    it('prunes audit events older than a moment, in batches, and refuses to delete recent ones', async () => {
      const { store, sql } = await openWithSql()
      const now = Date.now()
      const old = now - 3 * 24 * HOUR
      await sql(
        `INSERT INTO gatehouse_audit (at, type, outcome)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
         SELECT ${old} + i, 'login', 'bad_credentials' FROM n`,
      )
      const recent = {
        at: now - HOUR,
        type: 'login',
        outcome: 'success',
        username: 'alice',
        ip: null,
        userAgent: null,
        detail: null,
      }
      await store.appendAudit(recent)
      await store.appendAudit({ ...recent, at: now - 2 * 24 * HOUR })
      expect(await store.pruneAudit(now - 2 * 24 * HOUR + 1)).toBe(2501)
      expect((await store.listAudit({ limit: 10 })).map((e) => e.at)).toEqual([now - HOUR])
      await expect(store.pruneAudit(now)).rejects.toBeInstanceOf(InvalidInput)
      await expect(store.pruneAudit(now - AUDIT_DELETE_FLOOR_MS + 60_000)).rejects.toBeInstanceOf(
        InvalidInput,
      )
      // The database itself refuses, whoever asks.
      await expect(sql('DELETE FROM gatehouse_audit')).rejects.toThrow(/append-only/)
      await expect(sql("UPDATE gatehouse_audit SET outcome = 'x'")).rejects.toThrow(/append-only/)
      expect(await store.listAudit({ limit: 10 })).toHaveLength(1)
    })

    it('prunes sessions ended before the grace period, with their refresh tokens', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const now = Date.now()
      const longAgo = now - SESSION_PRUNE_GRACE_MS - 60_000
      const expired = (id: string, endedAt: number): NewSession => ({
        ...newSession(alice.id, id, `r-${id}`, endedAt - 24 * HOUR),
        expiresAt: endedAt,
      })
      await store.createSession(newSession(alice.id, 'live', 'r-live', now - HOUR))
      await store.createSession(expired('expired-long-ago', longAgo))
      await store.createSession(expired('expired-just-now', now - 60_000))
      await store.createSession(newSession(alice.id, 'revoked-long-ago', 'r-rla', now - 2 * HOUR))
      await store.createSession(newSession(alice.id, 'revoked-just-now', 'r-rjn', now - 2 * HOUR))
      await store.revokeSession('revoked-long-ago', longAgo)
      await store.revokeSession('revoked-just-now', now - 60_000)
      await store.rotateRefreshToken('r-live', 'r-live-2', now)

      expect(await store.pruneSessions(now)).toBe(2)
      expect(await store.findRefreshToken('r-expired-long-ago')).toBeUndefined()
      expect(await store.findRefreshToken('r-rla')).toBeUndefined()
      for (const kept of ['r-live', 'r-live-2', 'r-expired-just-now', 'r-rjn'])
        expect(await store.findRefreshToken(kept)).toBeDefined()
      expect(await store.pruneSessions(now)).toBe(0)
    })

    it('prunes more ended sessions than one batch holds', async () => {
      const { store, sql } = await openWithSql()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await sql(
        `INSERT INTO gatehouse_sessions (id, user_id, scope, created_at, last_used_at, expires_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100)
         SELECT 'old-' || i, ${alice.id}, 'me', 1, 1, 2 FROM n`,
      )
      await store.createSession(newSession(alice.id, 'live', 'r-live'))
      expect(await store.pruneSessions(Date.now())).toBe(2100)
      expect((await store.listActiveSessions(alice.id, Date.now())).map((s) => s.id)).toEqual([
        'live',
      ])
    })

    it('grants a lease to one holder at a time, until it expires', async () => {
      const store = await open()
      const now = Date.now()
      expect(await store.takeLease('prune', 'a', now, 60_000)).toBe(true)
      expect(await store.takeLease('prune', 'b', now + 1_000, 60_000)).toBe(false)
      expect(await store.takeLease('other', 'b', now + 1_000, 60_000)).toBe(true)
      expect(await store.takeLease('prune', 'a', now + 2_000, 60_000)).toBe(true)
      expect(await store.takeLease('prune', 'b', now + 61_000, 60_000)).toBe(false)
      expect(await store.takeLease('prune', 'b', now + 62_000, 60_000)).toBe(true)
      expect(await store.takeLease('prune', 'a', now + 63_000, 60_000)).toBe(false)
      const racers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.takeLease('race', `h${i}`, now, 60_000)),
      )
      expect(racers.filter(Boolean)).toHaveLength(1)
    })

    it('says which field of a new user is taken, the username by its key too', async () => {
      const store = await open()
      await store.createUser({ username: 'Alice', email: 'alice@example.com', hashedPassword: 'h' })
      expect(await store.findTaken({ username: 'Alice', email: null })).toBe('username')
      expect(await store.findTaken({ username: 'ａｌｉｃｅ', email: 'x@example.com' })).toBe(
        'username',
      )
      expect(await store.findTaken({ username: 'bob', email: 'alice@example.com' })).toBe('email')
      expect(await store.findTaken({ username: 'bob', email: null })).toBeUndefined()
    })

    it('keeps the sealed successor of exactly the rotation that won, and the session’s client', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createSession({ ...newSession(alice.id, 's1', 'r1'), clientId: 'orders-1' })
      expect((await store.findRefreshToken('r1'))?.token.successor).toBeNull()
      expect((await store.findRefreshToken('r1'))?.session.clientId).toBe('orders-1')
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.rotateRefreshToken('r1', `r2-${i}`, Date.now(), `sealed-${i}`),
        ),
      )
      const winner = results.indexOf(true)
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await store.findRefreshToken('r1'))?.token.successor).toBe(`sealed-${winner}`)
      expect((await store.findRefreshToken(`r2-${winner}`))?.token.successor).toBeNull()
    })

    it('creates, finds, lists, re-keys and removes registered clients', async () => {
      const store = await open()
      const orders = {
        clientId: 'orders-1',
        name: 'orders',
        confidential: true,
        secretHash: 'hash-1',
        grants: ['client_credentials'],
        scopes: ['items', 'orders:read'],
        createdAt: 1_000,
      }
      const spa = {
        ...orders,
        clientId: 'spa-2',
        name: 'spa',
        confidential: false,
        secretHash: null,
      }
      await store.createClient(orders)
      await store.createClient({ ...spa, createdAt: 2_000, grants: ['password', 'refresh_token'] })
      expect(await store.findClient('orders-1')).toEqual(orders)
      expect(await store.findClient('nobody')).toBeUndefined()
      expect((await store.listClients()).map((client) => client.clientId)).toEqual([
        'orders-1',
        'spa-2',
      ])
      expect(await store.setClientSecret('orders-1', 'hash-2')).toBe(true)
      expect((await store.findClient('orders-1'))?.secretHash).toBe('hash-2')
      expect(await store.setClientSecret('spa-2', 'hash-3')).toBe(false)
      expect(await store.setClientSecret('nobody', 'hash-3')).toBe(false)
      expect(await store.removeClient('orders-1', Date.now())).toEqual({ sessionsEnded: 0 })
      expect(await store.removeClient('orders-1', Date.now())).toBeUndefined()
      expect(await store.findClient('orders-1')).toBeUndefined()
    })

    it('ends the sessions opened through a client when it is removed, and no others', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createClient({
        clientId: 'spa-1',
        name: 'spa',
        confidential: false,
        secretHash: null,
        grants: ['password', 'refresh_token'],
        scopes: ['items'],
        createdAt: 1_000,
      })
      const now = Date.now()
      await store.createSession({ ...newSession(alice.id, 'via-spa', 'r1'), clientId: 'spa-1' })
      await store.createSession({ ...newSession(alice.id, 'via-spa-2', 'r2'), clientId: 'spa-1' })
      await store.createSession(newSession(alice.id, 'direct', 'r3'))
      await store.revokeSession('via-spa-2', now - 1)
      expect(await store.removeClient('spa-1', now)).toEqual({ sessionsEnded: 1 })
      expect((await store.listActiveSessions(alice.id, now)).map((s) => s.id)).toEqual(['direct'])
      // The one already ended keeps the time it ended at.
      expect((await store.findTokenOwner('alice', 'via-spa-2'))?.session.revokedAt).toBe(now - 1)
    })

    it('records the issuers instances sign under, once each, oldest first', async () => {
      const store = await open()
      expect(await store.listIssuers()).toEqual([])
      await store.recordIssuer('http://127.0.0.1:8130', 1_000)
      await store.recordIssuer('http://127.0.0.1:8131', 2_000)
      await store.recordIssuer('http://127.0.0.1:8130', 3_000)
      expect(await store.listIssuers()).toEqual(['http://127.0.0.1:8130', 'http://127.0.0.1:8131'])
    })
  })
}

/** Second factors: TOTP enrolment and replay refusal, recovery codes, mfa_tokens, session amr (issue #17). */
function mfaContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} MFA contract`, () => {
    it('keeps a pending enrolment replaceable until it is confirmed, then refuses to restart it', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      expect(await store.findTotp(user.id)).toBeUndefined()
      expect(await store.startTotp(user.id, 'sealed-1', 1000)).toBe(true)
      expect(await store.startTotp(user.id, 'sealed-2', 2000)).toBe(true)
      expect(await store.findTotp(user.id)).toEqual({
        userId: user.id,
        sealedSecret: 'sealed-2',
        createdAt: 2000,
        confirmedAt: null,
        lastStep: null,
      })
      // Only the enrolment that was shown (its secret) can be confirmed.
      expect(await store.confirmTotp(user.id, 'sealed-1', 50, ['a', 'b'], 3000)).toBe(false)
      expect(await store.confirmTotp(user.id, 'sealed-2', 50, ['a', 'b'], 3000)).toBe(true)
      expect(await store.confirmTotp(user.id, 'sealed-2', 51, ['c'], 3000)).toBe(false)
      expect(await store.findTotp(user.id)).toMatchObject({ confirmedAt: 3000, lastStep: 50 })
      expect(await store.startTotp(user.id, 'sealed-3', 4000)).toBe(false)
      expect((await store.findTotp(user.id))?.sealedSecret).toBe('sealed-2')
      expect(await store.countRecoveryCodes(user.id)).toBe(2)
    })

    it('accepts each time step once and never an earlier one, for one caller of many', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.startTotp(user.id, 's', 1)
      expect(await store.acceptTotpStep(user.id, 60)).toBe(false) // pending: not usable yet
      await store.confirmTotp(user.id, 's', 50, [], 2)
      expect(await store.acceptTotpStep(user.id, 50)).toBe(false)
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.acceptTotpStep(user.id, 51)),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await store.acceptTotpStep(user.id, 49)).toBe(false)
      expect(await store.acceptTotpStep(user.id, 53)).toBe(true)
    })

    it('spends a recovery code once, and forgets codes and factor on removal', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const other = await store.createUser({ username: 'bob', hashedPassword: 'h' })
      await store.startTotp(user.id, 's', 1)
      await store.confirmTotp(user.id, 's', 1, ['code-1', 'code-2'], 2)
      expect(await store.spendRecoveryCode(other.id, 'code-1', 3)).toBe(false)
      const spent = await Promise.all([
        store.spendRecoveryCode(user.id, 'code-1', 3),
        store.spendRecoveryCode(user.id, 'code-1', 3),
      ])
      expect(spent.filter(Boolean)).toHaveLength(1)
      expect(await store.countRecoveryCodes(user.id)).toBe(1)
      expect(await store.removeTotp(user.id)).toBe(true)
      expect(await store.removeTotp(user.id)).toBe(false)
      expect(await store.findTotp(user.id)).toBeUndefined()
      expect(await store.spendRecoveryCode(user.id, 'code-2', 4)).toBe(false)
      expect(await store.countRecoveryCodes(user.id)).toBe(0)
    })

    it('stores mfa_tokens and spends a live one exactly once', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const now = Date.now()
      const token = {
        tokenHash: 'live',
        userId: user.id,
        clientId: null,
        scope: 'me',
        passwordDigest: 'digest',
        credentialVersion: 3,
        createdAt: now,
        expiresAt: now + 300_000,
        spentAt: null,
      }
      await store.createMfaToken(token)
      await store.createMfaToken({ ...token, tokenHash: 'dead', clientId: 'app', expiresAt: now })
      expect(await store.findMfaToken('live')).toEqual(token)
      expect(await store.findMfaToken('dead')).toMatchObject({ clientId: 'app' })
      expect(await store.findMfaToken('unknown')).toBeUndefined()
      expect(await store.spendMfaToken('dead', now + 1)).toBe(false)
      const spent = await Promise.all([
        store.spendMfaToken('live', now + 1),
        store.spendMfaToken('live', now + 1),
      ])
      expect(spent.filter(Boolean)).toHaveLength(1)
      expect(await store.findMfaToken('live')).toMatchObject({ spentAt: now + 1 })
    })

    it("keeps a session's amr, and none for a session created without one", async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createSession({ ...newSession(user.id, 's1', 'r1'), amr: ['pwd', 'otp'] })
      await store.createSession(newSession(user.id, 's2', 'r2'))
      expect((await store.findRefreshToken('r1'))?.session.amr).toEqual(['pwd', 'otp'])
      expect((await store.findRefreshToken('r2'))?.session.amr).toEqual([])
    })

    it('removes the factor, codes and tokens with their user', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.startTotp(user.id, 's', 1)
      await store.confirmTotp(user.id, 's', 1, ['c'], 2)
      await store.createMfaToken({
        tokenHash: 't',
        userId: user.id,
        clientId: null,
        scope: null,
        passwordDigest: 'd',
        credentialVersion: 0,
        createdAt: 1,
        expiresAt: Date.now() + 60_000,
        spentAt: null,
      })
      expect(await store.removeUser('alice')).toBe(true)
      expect(await store.findTotp(user.id)).toBeUndefined()
      expect(await store.findMfaToken('t')).toBeUndefined()
      expect(await store.countRecoveryCodes(user.id)).toBe(0)
    })
  })
}

/** E-mail verification state, one-time tokens and the mail outbox (migration 7). */
function mailContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: mail`, () => {
    it('keeps an address unasked (null) unless told, and verifies it only while it is unchanged', async () => {
      const store = await open()
      const legacy = await store.createUser({
        username: 'old',
        email: 'o@x.org',
        hashedPassword: 'h',
      })
      expect(legacy.emailVerified).toBeNull()
      const alice = await store.createUser({
        username: 'alice',
        email: 'Alice@Example.com',
        hashedPassword: 'h',
        emailVerified: false,
      })
      expect(alice.emailVerified).toBe(false)
      expect((await store.findUserByEmail('alice@example.COM'))?.id).toBe(alice.id)
      expect(await store.findUserByEmail('nobody@example.com')).toBeUndefined()

      expect(await store.setEmailVerified(alice.id, 'other@example.com')).toBe(false)
      expect((await store.findUserById(alice.id))?.emailVerified).toBe(false)
      expect(await store.setEmailVerified(alice.id, 'Alice@Example.com')).toBe(true)
      expect((await store.findUserById(alice.id))?.emailVerified).toBe(true)

      await store.updateProfile('alice', { email: 'new@example.com', emailVerified: false })
      expect(await store.findUserByUsername('alice')).toMatchObject({
        email: 'new@example.com',
        emailVerified: false,
      })
      await store.updateProfile('alice', { fullName: 'A' })
      expect((await store.findUserById(alice.id))?.emailVerified).toBe(false)
    })

    it('counts rows written before migration 7 or by another program as never asked', async () => {
      const { store, sql } = await openWithSql()
      await sql(
        "INSERT INTO users (username, email, hashed_password, disabled) VALUES ('bob', 'b@x.org', 'h', false)",
      )
      expect((await store.findUserByUsername('bob'))?.emailVerified).toBeNull()
    })

    it('uses a one-time token once, only before it expires, and voids the rest of its kind', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const now = 1_700_000_000_000
      const token = (tokenHash: string, purpose: 'reset' | 'verify', expiresAt = now + 60_000) =>
        store.createOneTimeToken({
          tokenHash,
          purpose,
          userId: alice.id,
          binding: 'b',
          createdAt: now,
          expiresAt,
        })
      await token('t1', 'reset')
      await token('t2', 'reset')
      await token('t3', 'verify')
      await token('t4', 'reset', now + 10)
      expect(await store.findOneTimeToken('t1')).toEqual({
        tokenHash: 't1',
        purpose: 'reset',
        userId: alice.id,
        binding: 'b',
        createdAt: now,
        expiresAt: now + 60_000,
        usedAt: null,
      })
      expect(await store.findOneTimeToken('nope')).toBeUndefined()
      const racers = await Promise.all(
        Array.from({ length: 5 }, () => store.useOneTimeToken('t1', now + 1)),
      )
      expect(racers.filter(Boolean)).toHaveLength(1)
      expect((await store.findOneTimeToken('t1'))?.usedAt).toBe(now + 1)
      expect(await store.useOneTimeToken('t4', now + 10)).toBe(false)

      expect(await store.voidOneTimeTokens(alice.id, 'reset', now + 2)).toBe(2)
      expect(await store.useOneTimeToken('t2', now + 3)).toBe(false)
      expect(await store.useOneTimeToken('t3', now + 3)).toBe(true)

      expect(await store.pruneMail(now + 20)).toBe(1)
      expect(await store.findOneTimeToken('t4')).toBeUndefined()
      await store.removeUser('alice')
      expect(await store.findOneTimeToken('t2')).toBeUndefined()
    })

    it('hands each due message to one claimer, retries it later, and erases it once settled', async () => {
      const store = await open()
      const now = 1_700_000_000_000
      const first = await store.enqueueMail({ kind: 'reset', payload: 'p1' }, now)
      const second = await store.enqueueMail({ kind: 'verify', payload: 'p2' }, now + 5)
      expect(await store.claimMail(now - 1, 10, now + 30_000)).toEqual([])

      const claims = await Promise.all(
        Array.from({ length: 4 }, () => store.claimMail(now + 10, 10, now + 30_000)),
      )
      const claimed = claims.flat()
      expect(claimed.map((message) => message.id).sort()).toEqual([first, second].sort())
      expect(claimed.find((message) => message.id === first)).toEqual({
        id: first,
        kind: 'reset',
        payload: 'p1',
        attempts: 0,
      })
      // Claimed: nobody else takes them until the claim runs out.
      expect(await store.claimMail(now + 20_000, 10, now + 60_000)).toEqual([])

      await store.settleMail(first, { retryAt: now + 40_000, error: 'greylisted' })
      await store.settleMail(second, { sentAt: now + 11 })
      const again = await store.claimMail(now + 40_000, 10, now + 70_000)
      expect(again).toEqual([{ id: first, kind: 'reset', payload: 'p1', attempts: 1 }])
      await store.settleMail(first, { failedAt: now + 40_001, error: 'rejected' })
      expect(await store.claimMail(now + 999_999, 10, now + 999_999)).toEqual([])
      expect(await store.pruneMail(now + 12)).toBe(1)
      expect(await store.pruneMail(now + 50_000)).toBe(1)
    })
  })
}
