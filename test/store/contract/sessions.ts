// The sessions part of the store contract: the token-owner lookup, refresh-token rotation (once,
// whoever races), revocation, and pruning of ended sessions.
import { describe, expect, it } from 'vitest'
import { SESSION_PRUNE_GRACE_MS, type NewSession, type Store } from '../../../src/store/contract.js'
import { HOUR, newSession, type StoreWithSql } from './fixtures.js'

export function sessionContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: sessions`, () => {
    it('finds, with the token owner, the scopes its session’s client holds now', async () => {
      const store = await open()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.createClient({
        clientId: 'web',
        name: 'web',
        confidential: false,
        secretHash: null,
        grants: ['password'],
        scopes: ['me'],
        resource: null,
        createdAt: Date.now(),
      })
      await store.createSession({ ...newSession(alice.id, 's1', 'r1'), clientId: 'web' })
      expect((await store.findTokenOwner('alice', 's1'))?.session).toMatchObject({
        scope: ['me', 'items'],
        clientId: 'web',
        clientScopes: ['me'],
      })
      // A client that is gone leaves its sessions (revoked with it) nothing to hold.
      await store.removeClient('web', Date.now())
      expect((await store.findTokenOwner('alice', 's1'))?.session).toMatchObject({
        clientId: 'web',
        clientScopes: [],
      })
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
        session: {
          revokedAt: null,
          expiresAt: expect.any(Number) as unknown,
          scope: ['me', 'items'],
          clientId: null,
          clientScopes: null,
        },
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
  })
}
