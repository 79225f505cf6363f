// The signing-keys part of the store contract: keys listed newest first until they retire.
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'
import { HOUR } from './fixtures.js'

export function keyContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract: keys`, () => {
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
  })
}
