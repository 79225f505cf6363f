// The registered-clients use-case as a service, on a temporary SQLite store: registration and what it
// refuses, client authentication (a wrong secret throttled like a password), secret rotation, removal
// ending the sessions opened through the client, and which client a token request acts for.
import { describe, expect, it, vi } from 'vitest'
import {
  InvalidClient,
  InvalidInput,
  InvalidRefreshToken,
  NotFound,
  Throttled,
  UnauthorizedClient,
} from '../../../src/errors.js'
import { build, TEST_ACTOR, type TestApp } from '../../helper.js'

const IP = '203.0.113.7'
const FROM = { ip: IP, userAgent: 'clients-test' }

/** Whether an access token still lets its holder in. */
const passes = (t: TestApp, accessToken: string): Promise<boolean> =>
  t.services.currentUser(accessToken).then(
    () => true,
    () => false,
  )

const adminAudit = async (t: TestApp) =>
  (await t.store.listAudit({ limit: 100 }))
    .reverse()
    .filter((event) => event.type === 'admin')
    .map((event) => [event.outcome, event.actor, event.detail])

describe('client registration', () => {
  it('shows a confidential client’s secret once, and never again', async () => {
    const t = await build()
    const { clients } = t.services
    const added = await clients.add(
      { name: 'Orders service', confidential: true, grants: ['client_credentials'] },
      TEST_ACTOR,
    )
    expect(added.secret).toMatch(/^[\w-]{43}$/)
    expect(added.client).toMatchObject({
      name: 'Orders service',
      confidential: true,
      grants: ['client_credentials'],
      // A service holds only what it is given: not the user scopes a login defaults to.
      scopes: [],
    })
    expect(added.client.client_id).toMatch(/^orders-service-[0-9a-f]{12}$/)
    const shown = JSON.stringify([await clients.list(), await clients.show(added.client.client_id)])
    expect(shown).toContain(added.client.client_id)
    expect(shown).not.toContain(added.secret)
    const stored = JSON.stringify(await t.store.findClient(added.client.client_id))
    expect(stored).not.toContain(added.secret)
    expect(await adminAudit(t)).toEqual([
      ['create_client', TEST_ACTOR.name, `client ${added.client.client_id}`],
    ])
  })

  it('registers a public client for password and refresh_token by default, with no secret', async () => {
    const t = await build()
    const added = await t.services.clients.add({ name: 'spa' }, TEST_ACTOR)
    expect(added.secret).toBeUndefined()
    expect(added.client).toMatchObject({
      confidential: false,
      grants: ['password', 'refresh_token'],
    })
  })

  it('refuses a bad name, an unknown grant or scope, and client_credentials for a public client', async () => {
    const t = await build()
    const add = (client: Parameters<typeof t.services.clients.add>[0]) =>
      t.services.clients.add(client, TEST_ACTOR)
    await expect(add({ name: '' })).rejects.toBeInstanceOf(InvalidInput)
    await expect(add({ name: 'bad\nname' })).rejects.toBeInstanceOf(InvalidInput)
    await expect(add({ name: 'x', grants: ['implicit'] })).rejects.toBeInstanceOf(InvalidInput)
    await expect(add({ name: 'x', scopes: ['nonsense'] })).rejects.toBeInstanceOf(InvalidInput)
    await expect(add({ name: 'x', grants: ['client_credentials'] })).rejects.toBeInstanceOf(
      InvalidInput,
    )
    expect(await t.services.clients.list()).toEqual([])
  })
})

describe('client authentication', () => {
  it('accepts the right secret, refuses a wrong one, and records the failure without the secret', async () => {
    const t = await build()
    const { clients } = t.services
    const { client, secret } = await clients.add({ name: 'api', confidential: true }, TEST_ACTOR)
    const clientId = client.client_id
    await expect(
      clients.authenticate({ clientId, secret: secret!, basic: true }, IP),
    ).resolves.toEqual({
      id: clientId,
      confidential: true,
      grants: ['password', 'refresh_token'],
      scopes: ['me', 'items'],
    })
    const wrong = await clients
      .authenticate({ clientId, secret: 'a-wrong-secret', basic: true }, IP)
      .catch((error: unknown) => error)
    expect(wrong).toBeInstanceOf(InvalidClient)
    expect((wrong as InvalidClient).basic).toBe(true)
    await expect(
      clients.authenticate({ clientId: 'nobody', secret: 'anything', basic: false }, IP),
    ).rejects.toBeInstanceOf(InvalidClient)
    // A confidential client must prove itself; naming it is not enough.
    await expect(clients.authenticate({ clientId, basic: false }, IP)).rejects.toBeInstanceOf(
      InvalidClient,
    )
    const failures = (await t.store.listAudit({ limit: 100 })).filter(
      (event) => event.type === 'client_token',
    )
    expect(failures.map((event) => [event.outcome, event.detail])).toEqual([
      ['bad_client_credentials', 'client nobody'],
      ['bad_client_credentials', `client ${clientId}`],
    ])
    expect(JSON.stringify(failures)).not.toContain('a-wrong-secret')
  })

  it('lets a public client name itself, and never authenticates it with a secret', async () => {
    const t = await build()
    const { clients } = t.services
    const { client } = await clients.add({ name: 'spa' }, TEST_ACTOR)
    await expect(
      clients.authenticate({ clientId: client.client_id, basic: false }, IP),
    ).resolves.toMatchObject({ id: client.client_id, confidential: false })
    await expect(
      clients.authenticate({ clientId: client.client_id, secret: 'guess', basic: false }, IP),
    ).rejects.toBeInstanceOf(InvalidClient)
  })

  it('throttles wrong secrets per client and address, like passwords', async () => {
    const t = await build()
    const { clients } = t.services
    const { client, secret } = await clients.add({ name: 'api', confidential: true }, TEST_ACTOR)
    const clientId = client.client_id
    for (let i = 0; i < 5; i++)
      await expect(
        clients.authenticate({ clientId, secret: `guess-${i}`, basic: false }, IP),
      ).rejects.toBeInstanceOf(InvalidClient)
    await expect(
      clients.authenticate({ clientId, secret: secret!, basic: false }, IP),
    ).rejects.toBeInstanceOf(Throttled)
    await expect(
      clients.authenticate({ clientId, secret: secret!, basic: false }, '198.51.100.1'),
    ).resolves.toMatchObject({ id: clientId })
  })

  it('writes no throttle counter for a right secret once its address is known, and still forgets failures', async () => {
    const t = await build()
    const { clients } = t.services
    const { client, secret } = await clients.add({ name: 'api', confidential: true }, TEST_ACTOR)
    const clientId = client.client_id
    const updates = vi.spyOn(t.store, 'updateThrottles')
    const right = () => clients.authenticate({ clientId, secret: secret!, basic: false }, IP)
    // The first success marks the address as known (two updates, as a login's); later ones only read.
    await right()
    expect(updates).toHaveBeenCalledTimes(2)
    for (let i = 0; i < 5; i++) await right()
    expect(updates).toHaveBeenCalledTimes(2)
    // Failures are counted at once, and the next success forgets them, so 4 more fit before the limit.
    for (let i = 0; i < 4; i++)
      await expect(
        clients.authenticate({ clientId, secret: `guess-${i}`, basic: false }, IP),
      ).rejects.toBeInstanceOf(InvalidClient)
    expect(updates).toHaveBeenCalledTimes(6)
    await right()
    expect(updates).toHaveBeenCalledTimes(8)
    for (let i = 0; i < 5; i++)
      await expect(
        clients.authenticate({ clientId, secret: `guess-${i}`, basic: false }, IP),
      ).rejects.toBeInstanceOf(InvalidClient)
    await expect(right()).rejects.toBeInstanceOf(Throttled)
  })
})

describe('client secret rotation', () => {
  it('gives a new secret and stops the old one at once', async () => {
    const t = await build()
    const { clients } = t.services
    const { client, secret: old } = await clients.add(
      { name: 'api', confidential: true },
      TEST_ACTOR,
    )
    const clientId = client.client_id
    const rotated = await clients.rotateSecret(clientId, TEST_ACTOR)
    expect(rotated).not.toBe(old)
    await expect(
      clients.authenticate({ clientId, secret: old!, basic: false }, IP),
    ).rejects.toBeInstanceOf(InvalidClient)
    await expect(
      clients.authenticate({ clientId, secret: rotated, basic: false }, IP),
    ).resolves.toMatchObject({ id: clientId })
    expect(await adminAudit(t)).toContainEqual([
      'rotate_client_secret',
      TEST_ACTOR.name,
      `client ${clientId}`,
    ])
  })

  it('refuses for a public client and an unknown one', async () => {
    const t = await build()
    const { clients } = t.services
    const { client } = await clients.add({ name: 'spa' }, TEST_ACTOR)
    await expect(clients.rotateSecret(client.client_id, TEST_ACTOR)).rejects.toBeInstanceOf(
      InvalidInput,
    )
    await expect(clients.rotateSecret('nobody', TEST_ACTOR)).rejects.toBeInstanceOf(NotFound)
  })
})

describe('client removal', () => {
  it('ends every session opened through the client, and no other', async () => {
    const t = await build()
    const { clients, sessions } = t.services
    await t.addUser({ username: 'alice' })
    const alice = (await t.store.findUserByUsername('alice'))!
    const { client } = await clients.add({ name: 'spa' }, TEST_ACTOR)
    const oauthClient = await clients.authenticate({ clientId: client.client_id, basic: false }, IP)
    const through = await sessions.start(alice, undefined, FROM, { oauthClient })
    const direct = await sessions.start(alice, undefined, FROM)

    expect(await clients.remove(client.client_id, TEST_ACTOR)).toEqual({ sessionsEnded: 1 })
    expect(await passes(t, through.access_token)).toBe(false)
    await expect(
      sessions.refresh(through.refresh_token!, undefined, FROM, oauthClient),
    ).rejects.toBeInstanceOf(InvalidRefreshToken)
    expect(await passes(t, direct.access_token)).toBe(true)
    await expect(clients.show(client.client_id)).rejects.toBeInstanceOf(NotFound)
    await expect(clients.remove(client.client_id, TEST_ACTOR)).rejects.toBeInstanceOf(NotFound)
    expect(await adminAudit(t)).toContainEqual([
      'remove_client',
      TEST_ACTOR.name,
      `client ${client.client_id}: 1 session ended`,
    ])
  })
})

describe('the client of a token request', () => {
  it('checks the grant against the client’s registration', async () => {
    const t = await build()
    const { clients } = t.services
    const { client, secret } = await clients.add(
      { name: 'worker', confidential: true, grants: ['client_credentials'], scopes: ['items'] },
      TEST_ACTOR,
    )
    const presented = { clientId: client.client_id, secret: secret!, basic: true }
    await expect(clients.admitTokenRequest(presented, 'password', IP)).rejects.toBeInstanceOf(
      UnauthorizedClient,
    )
    const admitted = await clients.admitTokenRequest(presented, 'client_credentials', IP)
    const token = await clients.issueToken(admitted, 'items', FROM)
    expect(token).toMatchObject({ token_type: 'bearer', expires_in: 1_800 })
    expect(token.refresh_token).toBeUndefined()
    // The client's own token names no user: it opens none of the user routes.
    expect(await passes(t, token.access_token)).toBe(false)
  })

  it('ignores an unregistered client_id unless REQUIRE_CLIENT is on', async () => {
    const open = await build()
    await expect(
      open.services.clients.admitTokenRequest(
        { clientId: 'swagger-ui', basic: false },
        'password',
        IP,
      ),
    ).resolves.toBeUndefined()
    await expect(
      open.services.clients.admitTokenRequest(undefined, 'password', IP),
    ).resolves.toBeUndefined()

    const strict = await build({ env: { REQUIRE_CLIENT: 'true' } })
    await expect(
      strict.services.clients.admitTokenRequest(
        { clientId: 'swagger-ui', basic: false },
        'password',
        IP,
      ),
    ).rejects.toBeInstanceOf(InvalidClient)
    await expect(
      strict.services.clients.admitTokenRequest(undefined, 'password', IP),
    ).rejects.toBeInstanceOf(InvalidClient)
  })
})
