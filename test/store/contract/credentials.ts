// Live credentials, where users meet sessions: a login creates its session only while what it
// verified still holds, and a credential change revokes sessions in the same step.
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'
import { HOUR, newSession, type StoreWithSql } from './fixtures.js'

export function credentialsContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: live credentials`, () => {
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
  })
}
