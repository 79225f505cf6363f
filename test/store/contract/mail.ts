// The mail part of the store contract: e-mail verification state, one-time tokens and the outbox
// (migration 7).
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'
import type { StoreWithSql } from './fixtures.js'

export function mailContract(
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
