// The leases part of the store contract: one holder at a time, until the lease expires.
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'

export function leaseContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract: leases`, () => {
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
  })
}
