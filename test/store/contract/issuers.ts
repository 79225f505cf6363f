// The issuers part of the store contract: each issuer recorded once, listed oldest first.
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'

export function issuerContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract: issuers`, () => {
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
