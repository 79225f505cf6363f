// The clients part of the store contract: registered clients, and the sessions that end with them.
import { describe, expect, it } from 'vitest'
import type { Store } from '../../../src/store/contract.js'
import { newSession } from './fixtures.js'

export function clientContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract: clients`, () => {
    it('creates, finds, lists, re-keys and removes registered clients', async () => {
      const store = await open()
      const orders = {
        clientId: 'orders-1',
        name: 'orders',
        confidential: true,
        secretHash: 'hash-1',
        grants: ['client_credentials'],
        scopes: ['items', 'orders:read'],
        resource: 'https://orders.example',
        createdAt: 1_000,
      }
      const spa = {
        ...orders,
        clientId: 'spa-2',
        name: 'spa',
        confidential: false,
        secretHash: null,
        resource: null,
      }
      await store.createClient(orders)
      await store.createClient({ ...spa, createdAt: 2_000, grants: ['password', 'refresh_token'] })
      expect(await store.findClient('orders-1')).toEqual(orders)
      expect(await store.findClient('nobody')).toBeUndefined()
      // One client per resource URI; any number of clients that serve none.
      await expect(
        store.createClient({ ...orders, clientId: 'orders-2', secretHash: 'hash-9' }),
      ).rejects.toThrow()
      await store.createClient({ ...spa, clientId: 'spa-3', createdAt: 3_000 })
      expect((await store.listClients()).map((client) => client.clientId)).toEqual([
        'orders-1',
        'spa-2',
        'spa-3',
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
        resource: null,
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
  })
}
