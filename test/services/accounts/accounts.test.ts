// The accounts use-case as a service: what it writes, what it refuses, and what it audits.
import { describe, expect, it } from 'vitest'
import { DuplicateUser, InvalidInput } from '../../../src/errors.js'
import { build, TEST_ACTOR } from '../../helper.js'

describe('accounts', () => {
  it('records every change with the actor, the action and the user acted on', async () => {
    const t = await build()
    const { accounts } = t.services
    await accounts.add({ username: 'alice', password: 'alice-password' }, TEST_ACTOR)
    await accounts.update('alice', { fullName: 'Alice' }, TEST_ACTOR)
    await accounts.setScopes('alice', ['me'], TEST_ACTOR)
    await accounts.setPassword('alice', 'another-password', TEST_ACTOR)
    await accounts.endSessions('alice', TEST_ACTOR)
    await accounts.setDisabled('alice', true, TEST_ACTOR)
    await accounts.remove('alice', TEST_ACTOR)
    const events = (await t.store.listAudit({ limit: 20 })).reverse()
    expect(events.map((event) => [event.type, event.outcome, event.actor, event.detail])).toEqual(
      [
        'create_user',
        'update_user',
        'set_scopes',
        'reset_password',
        'revoke_sessions',
        'disable_user',
        'delete_user',
      ].map((action) => ['admin', action, TEST_ACTOR.name, 'user alice']),
    )
  })

  it('refuses a taken username or email before hashing the password', async () => {
    const t = await build()
    const { accounts } = t.services
    await accounts.add(
      { username: 'Alice', password: 'alice-password', email: 'a@example.com' },
      TEST_ACTOR,
    )
    let hashes = 0
    const hash = t.services.hasher.hash.bind(t.services.hasher)
    t.services.hasher.hash = (password) => {
      hashes++
      return hash(password)
    }
    const taken = (username: string, email?: string) =>
      accounts.add({ username, password: 'another-password', email }, TEST_ACTOR)
    await expect(taken('alice')).rejects.toEqual(new DuplicateUser('username'))
    await expect(taken('bob', 'a@example.com')).rejects.toEqual(new DuplicateUser('email'))
    expect(hashes).toBe(0)
  })

  it('refuses control characters in names and addresses', async () => {
    const t = await build()
    const add = (fields: { fullName?: string; email?: string }) =>
      t.services.accounts.add(
        { username: 'eve', password: 'eve-passphrase', ...fields },
        TEST_ACTOR,
      )
    await expect(add({ fullName: 'Eve\u001b[31m' })).rejects.toBeInstanceOf(InvalidInput)
    await expect(add({ fullName: 'Eve\u202e' })).rejects.toBeInstanceOf(InvalidInput)
    await expect(add({ email: 'eve\u0000@example.com' })).rejects.toBeInstanceOf(InvalidInput)
    expect(await t.store.findUserByUsername('eve')).toBeUndefined()
  })
})
