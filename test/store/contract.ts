// The store contract: every driver runs these same tests (SQLite now, PostgreSQL when it lands).
import { describe, expect, it } from 'vitest'
import { DuplicateUser } from '../../src/errors.js'
import type { Store } from '../../src/store/index.js'

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    it('creates a user and finds it by exact username', async () => {
      const store = await open()
      const created = await store.createUser({ username: 'alice', email: 'a@example.com', fullName: 'Alice', hashedPassword: 'h1' })
      expect(created).toMatchObject({ username: 'alice', email: 'a@example.com', fullName: 'Alice', hashedPassword: 'h1', disabled: false })
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
      await expect(store.createUser({ username: 'alice', hashedPassword: 'h' })).rejects.toMatchObject({ field: 'username' })
      await expect(store.createUser({ username: 'other', email: 'a@example.com', hashedPassword: 'h' })).rejects.toBeInstanceOf(DuplicateUser)
      await expect(store.createUser({ username: 'other', email: 'a@example.com', hashedPassword: 'h' })).rejects.toMatchObject({ field: 'email' })
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

    it('sets a password hash, and replaces one only if it is unchanged', async () => {
      const store = await open()
      const user = await store.createUser({ username: 'alice', hashedPassword: 'old' })
      expect(await store.replacePasswordHash(user.id, 'old', 'upgraded')).toBe(true)
      expect(await store.replacePasswordHash(user.id, 'old', 'stale-upgrade')).toBe(false)
      expect((await store.findUserByUsername('alice'))?.hashedPassword).toBe('upgraded')
      expect(await store.setPasswordHash('alice', 'new')).toBe(true)
      expect(await store.setPasswordHash('ghost', 'new')).toBe(false)
      expect((await store.findUserByUsername('alice'))?.hashedPassword).toBe('new')
    })
  })
}
