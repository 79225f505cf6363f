// The users part of the store contract: creation, look-up, look-alike usernames whoever wrote them,
// search, and profile changes.
import { describe, expect, it } from 'vitest'
import { DuplicateUser } from '../../../src/errors.js'
import type { Store } from '../../../src/store/contract.js'
import type { StoreWithSql } from './fixtures.js'

export function userContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: users`, () => {
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

    it('keeps addresses unique case-insensitively, whoever writes the row', async () => {
      const { store, sql } = await openWithSql()
      await store.createUser({ username: 'alice', email: 'Alice@Example.com', hashedPassword: 'h' })
      expect(await store.findTaken({ username: 'bob', email: 'alice@example.COM' })).toBe('email')
      await expect(
        store.createUser({ username: 'bob', email: 'alice@example.com', hashedPassword: 'h' }),
      ).rejects.toMatchObject({ field: 'email' })
      await store.createUser({ username: 'carol', email: 'c@example.com', hashedPassword: 'h' })
      await expect(
        store.updateProfile('carol', { email: 'ALICE@example.com' }),
      ).rejects.toBeInstanceOf(DuplicateUser)
      // Another program writing the row meets the index too.
      await expect(
        sql("UPDATE users SET email = 'alice@EXAMPLE.com' WHERE username = 'carol'"),
      ).rejects.toThrow()
      expect(await store.enforceUniqueEmails()).toEqual([])
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
  })
}
