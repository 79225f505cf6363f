// The second-factor part of the store contract: TOTP enrolment and replay refusal, recovery codes,
// mfa_tokens, and a session's amr (issue #17).
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'
import { newSession } from './fixtures.js'

export function mfaContract(name: string, open: () => Promise<Store>): void {
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

    it('reseals a factor only while it still holds the value read, keeping its state', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      await store.startTotp(user.id, 'old-seal', 1)
      await store.confirmTotp(user.id, 'old-seal', 50, ['c'], 2)
      expect(await store.resealTotp(user.id, 'other', 'new-seal')).toBe(false)
      expect(await store.resealTotp(user.id, 'old-seal', 'new-seal')).toBe(true)
      expect(await store.findTotp(user.id)).toMatchObject({
        sealedSecret: 'new-seal',
        confirmedAt: 2,
        lastStep: 50,
      })
      expect(await store.resealTotp(user.id, 'old-seal', 'newer-seal')).toBe(false)
      expect(await store.countRecoveryCodes(user.id)).toBe(1)
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
