// The change-feed part of the store contract: triggers write it whoever changes the data, and a
// subscription delivers each change once, in order, to every process.
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Change, NewSession, Store } from '../../../src/store/contract.js'
import { HOUR, type StoreWithSql } from './fixtures.js'

function session(userId: number, id: string, expiresAt = Date.now() + HOUR): NewSession {
  return {
    id,
    userId,
    scope: ['me'],
    createdAt: Date.now(),
    expiresAt,
    userAgent: null,
    ip: null,
    refreshTokenHash: `r-${id}`,
  }
}

const brief = (changes: Change[]) =>
  changes.map(({ kind, userId, username, sessionId }) => ({ kind, userId, username, sessionId }))

async function since(store: Store, id: number) {
  return brief(await store.changesSince(id, 100))
}

export function changeFeedContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: change feed`, () => {
    it('records ended sessions, changed and removed users, whoever writes them', async () => {
      const { store, sql } = await openWithSql()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const bob = await store.createUser({ username: 'bob', hashedPassword: 'h' })
      await store.createSession(session(alice.id, 's1'))
      await store.createSession(session(alice.id, 's2'))
      await store.createSession(session(alice.id, 's3'))
      await store.createSession(session(alice.id, 'old', Date.now() - 1))
      const start = await store.latestChangeId()
      expect(await store.changesSince(start, 10)).toEqual([])

      // One session of several: that session; the last one: and then the user's sessions all ended.
      await store.revokeSession('s1', Date.now())
      expect(await since(store, start)).toEqual([
        { kind: 'session_ended', userId: alice.id, username: 'alice', sessionId: 's1' },
      ])
      let mark = await store.latestChangeId()
      await store.changeCredentials(alice.id, {}, { now: Date.now() })
      const everywhere = await since(store, mark)
      expect(
        everywhere
          .filter((c) => c.kind === 'session_ended')
          .map((c) => c.sessionId)
          .sort(),
      ).toEqual(['s2', 's3'])
      expect(everywhere.filter((c) => c.kind === 'user_sessions_ended')).toEqual([
        { kind: 'user_sessions_ended', userId: alice.id, username: 'alice', sessionId: null },
      ])
      expect(everywhere.filter((c) => c.username !== 'alice')).toEqual([])
      expect(everywhere.at(-1)?.kind).toBe('user_sessions_ended')

      // Another program's writes: disabled, scopes, profile, a rename; an unrelated column says nothing.
      // A rename is said under the old name: the one the user's tokens were issued under.
      mark = await store.latestChangeId()
      await sql(`UPDATE users SET disabled = true WHERE username = 'alice'`)
      await sql(`UPDATE users SET scopes = 'me' WHERE username = 'alice'`)
      await sql(`UPDATE users SET email = 'a@example.com' WHERE username = 'alice'`)
      await sql(`UPDATE users SET hashed_password = 'h2' WHERE username = 'alice'`)
      await sql(`UPDATE users SET username_key = username_key WHERE username = 'alice'`)
      await sql(`UPDATE users SET username = 'alicia' WHERE username = 'alice'`)
      expect(await since(store, mark)).toEqual([
        ...Array.from({ length: 5 }, () => ({
          kind: 'user_changed',
          userId: alice.id,
          username: 'alice',
          sessionId: null,
        })),
      ])

      // A removed user takes their live sessions with them, said under their name before the removal;
      // ended ones are not said again.
      await store.createSession(session(alice.id, 's4'))
      await store.createSession(session(alice.id, 's5'))
      mark = await store.latestChangeId()
      await sql(`DELETE FROM users WHERE username = 'alicia'`)
      expect(await since(store, mark)).toEqual([
        { kind: 'session_ended', userId: alice.id, username: 'alicia', sessionId: 's4' },
        { kind: 'session_ended', userId: alice.id, username: 'alicia', sessionId: 's5' },
        { kind: 'user_removed', userId: alice.id, username: 'alicia', sessionId: null },
      ])

      // A session deleted on its own (its user stays) is said with the user's name.
      await store.createSession(session(bob.id, 'b1'))
      mark = await store.latestChangeId()
      await sql(`DELETE FROM gatehouse_sessions WHERE id = 'b1'`)
      expect(await since(store, mark)).toEqual([
        { kind: 'session_ended', userId: bob.id, username: 'bob', sessionId: 'b1' },
      ])
    })

    it('records a removed client and any change of a client row, naming the client', async () => {
      const { store, sql } = await openWithSql()
      const alice = await store.createUser({ username: 'alice', hashedPassword: 'h' })
      const client = (clientId: string) => ({
        clientId,
        name: clientId,
        confidential: true,
        secretHash: 'old-hash',
        grants: ['client_credentials'],
        scopes: ['me'],
        resource: null,
        createdAt: Date.now(),
      })
      await store.createClient(client('orders'))
      await store.createClient(client('billing'))
      const clientChanges = async (mark: number) =>
        (await store.changesSince(mark, 100))
          .filter((change) => change.kind === 'client_changed')
          .map(({ kind, userId, username, sessionId, clientId }) => ({
            kind,
            userId,
            username,
            sessionId,
            clientId,
          }))
      const changed = (clientId: string) => ({
        kind: 'client_changed',
        userId: null,
        username: null,
        sessionId: null,
        clientId,
      })
      // Registering a client says nothing: no stream can be open with it yet.
      expect(await store.changesSince(0, 100)).toEqual([])

      let mark = await store.latestChangeId()
      expect(await store.setClientSecret('orders', 'new-hash')).toBe(true)
      expect(await clientChanges(mark)).toEqual([changed('orders')])
      // Another program's change of the row (its scopes) is said too; a refused one is not.
      mark = await store.latestChangeId()
      await sql(`UPDATE gatehouse_clients SET scopes = 'me items' WHERE client_id = 'billing'`)
      expect(await store.setClientSecret('nobody', 'h')).toBe(false)
      expect(await clientChanges(mark)).toEqual([changed('billing')])

      // A removal: its sessions end and the client change is said.
      await store.createSession({ ...session(alice.id, 'o1'), clientId: 'orders' })
      mark = await store.latestChangeId()
      expect(await store.removeClient('orders', Date.now())).toEqual({ sessionsEnded: 1 })
      const removal = await store.changesSince(mark, 100)
      expect(removal.map((change) => change.kind).sort()).toEqual([
        'client_changed',
        'session_ended',
        'user_sessions_ended',
      ])
      expect(removal.find((change) => change.kind === 'client_changed')?.clientId).toBe('orders')
      // User changes name no client.
      mark = await store.latestChangeId()
      await store.setScopes('alice', ['me'])
      expect(await store.changesSince(mark, 100)).toEqual([
        expect.objectContaining({ kind: 'user_changed', clientId: null }),
      ])
      mark = await store.latestChangeId()
      await sql(`DELETE FROM gatehouse_clients WHERE client_id = 'billing'`)
      expect(await clientChanges(mark)).toEqual([changed('billing')])
    })

    it('pages through the feed, with ids that keep growing after pruning', async () => {
      const store = await open()
      const bob = await store.createUser({ username: 'bob', hashedPassword: 'h' })
      for (let i = 0; i < 5; i++) await store.setScopes('bob', [`s${i}`])
      const all = await store.changesSince(0, 100)
      expect(all).toHaveLength(5)
      expect(all.map((c) => c.id)).toEqual([...all.map((c) => c.id)].sort((a, b) => a - b))
      expect(all[0]!.at).toBeGreaterThan(Date.now() - 60_000)
      expect(await store.changesSince(all[1]!.id, 2)).toEqual(all.slice(2, 4))
      const latest = await store.latestChangeId()
      expect(latest).toBe(all.at(-1)!.id)

      expect(await store.pruneChanges(Date.now() - HOUR)).toBe(0)
      expect(await store.pruneChanges(Date.now() + 1_000)).toBe(5)
      expect(await store.changesSince(0, 100)).toEqual([])
      await store.setDisabled('bob', true)
      const [next] = await store.changesSince(0, 100)
      expect(next?.id).toBeGreaterThan(latest)
      expect(next).toMatchObject({ kind: 'user_changed', userId: bob.id })
    })

    it('finds the newest change before a moment', async () => {
      const { store, sql } = await openWithSql()
      expect(await store.changeIdBefore(Date.now() + HOUR)).toBe(0)
      await store.createUser({ username: 'dora', hashedPassword: 'h' })
      for (let i = 0; i < 3; i++) await store.setScopes('dora', [`s${i}`])
      const [first, second, third] = await store.changesSince(0, 10)
      await sql(`UPDATE gatehouse_changes SET at = 1000 WHERE id = ${first!.id}`)
      await sql(`UPDATE gatehouse_changes SET at = 2000 WHERE id = ${second!.id}`)
      await sql(`UPDATE gatehouse_changes SET at = 3000 WHERE id = ${third!.id}`)
      expect(await store.changeIdBefore(1000)).toBe(0)
      expect(await store.changeIdBefore(1001)).toBe(first!.id)
      expect(await store.changeIdBefore(3000)).toBe(second!.id)
      expect(await store.changeIdBefore(Date.now())).toBe(third!.id)
    })

    it('delivers to a subscriber what any connection commits, each change once, in order', async () => {
      const { store, sql } = await openWithSql()
      const carol = await store.createUser({ username: 'carol', hashedPassword: 'h' })
      await store.setScopes('carol', ['before'])
      const seen: Change[] = []
      const gaps: Error[] = []
      const subscription = await store.subscribeChanges(
        (changes) => seen.push(...changes),
        (error) => gaps.push(error),
        { pollMs: 20 },
      )
      onTestFinished(() => subscription.close())
      expect(subscription.live).toBe(true)
      const start = await store.latestChangeId()
      expect(subscription.delivered()).toEqual({ cursor: start, above: new Set() })

      await sql(`UPDATE users SET disabled = true WHERE username = 'carol'`)
      await expect.poll(() => seen.length, { timeout: 2_000 }).toBe(1)
      expect(seen[0]).toMatchObject({ kind: 'user_changed', userId: carol.id })

      // A write of this process is delivered by catchUp, before it resolves.
      await store.createSession(session(carol.id, 'c1'))
      await store.revokeSession('c1', Date.now())
      await subscription.catchUp()
      expect(brief(seen.slice(1))).toEqual([
        { kind: 'session_ended', userId: carol.id, username: 'carol', sessionId: 'c1' },
        { kind: 'user_sessions_ended', userId: carol.id, username: 'carol', sessionId: null },
      ])
      await subscription.catchUp()
      expect(new Set(seen.map((c) => c.id)).size).toBe(seen.length)
      expect(seen).toHaveLength(3)
      expect(subscription.cursor).toBe(seen.at(-1)!.id)
      expect(gaps).toEqual([])
      await subscription.close()
    })

    it('tells whether any bcrypt hash is left', async () => {
      const store = await open()
      expect(await store.hasBcryptHashes()).toBe(false)
      await store.createUser({
        username: 'new',
        hashedPassword: '$argon2id$v=19$m=19456,t=2,p=1$x$y',
      })
      expect(await store.hasBcryptHashes()).toBe(false)
      const old = await store.createUser({
        username: 'old',
        hashedPassword: '$2b$12$abcdefghijklmnopqrstuv',
      })
      expect(await store.hasBcryptHashes()).toBe(true)
      await store.changeCredentials(
        old.id,
        { hashedPassword: '$argon2id$v=19$m=19456,t=2,p=1$x$z' },
        undefined,
      )
      expect(await store.hasBcryptHashes()).toBe(false)
    })
  })
}
