import { describe, expect, it } from 'vitest'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

async function withClients(env: Record<string, string> = {}) {
  const t = await build({ env })
  await t.addUser({ username: 'alice' })
  const add = (
    name: string,
    options: Parameters<TestApp['services']['clients']['add']>[0] = { name },
  ) => t.services.clients.add({ ...options, name }, TEST_ACTOR)
  const web = await add('web', { name: 'web', confidential: true, scopes: ['me'] })
  const orders = await add('orders', {
    name: 'orders',
    confidential: true,
    grants: ['client_credentials'],
    scopes: ['items'],
  })
  const spa = await add('spa', { name: 'spa' })
  return {
    ...t,
    web: { id: web.client.client_id, secret: web.secret! },
    orders: { id: orders.client.client_id, secret: orders.secret! },
    spa: { id: spa.client.client_id },
    token: (fields: Record<string, string>, authorization?: string) => {
      const request = tokenRequest(fields)
      return t.app.inject({
        ...request,
        headers: { ...request.headers, ...(authorization ? { authorization } : {}) },
      })
    },
    form: (url: string, fields: Record<string, string>, authorization?: string) =>
      t.app.inject({
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(authorization ? { authorization } : {}),
        },
        payload: new URLSearchParams(fields).toString(),
      }),
  }
}

const alice = { username: 'alice', password: 'correct horse battery' }

describe('client authentication at /token', () => {
  it('keeps requests without a client, with an empty Basic or an unregistered client_id working by default', async () => {
    const t = await withClients()
    expect((await t.token(alice)).statusCode).toBe(200)
    expect((await t.token(alice, 'Basic Og==')).statusCode).toBe(200)
    expect((await t.token({ ...alice, client_id: '', client_secret: '' })).statusCode).toBe(200)
    expect((await t.token({ ...alice, client_id: 'swagger' })).statusCode).toBe(200)
    expect((await t.token({ ...alice, client_id: 'x', client_secret: 'y' })).statusCode).toBe(200)
    expect((await t.token(alice, basic('nobody', 'x'))).statusCode).toBe(200)
  })

  it('authenticates a confidential client with HTTP Basic or the form, bounding its scopes', async () => {
    const t = await withClients()
    const viaBasic = await t.token(alice, basic(t.web.id, t.web.secret))
    expect(viaBasic.statusCode).toBe(200)
    expect(viaBasic.json()).toMatchObject({ scope: 'me' })
    const viaPost = await t.token({ ...alice, client_id: t.web.id, client_secret: t.web.secret })
    expect(viaPost.statusCode).toBe(200)
    const claims = JSON.parse(
      Buffer.from(
        viaPost.json<{ access_token: string }>().access_token.split('.')[1]!,
        'base64url',
      ).toString(),
    ) as Record<string, unknown>
    expect(claims).toMatchObject({ sub: 'alice', client_id: t.web.id, scope: 'me' })
    const wider = await t.token({ ...alice, scope: 'items' }, basic(t.web.id, t.web.secret))
    expect(wider.statusCode).toBe(400)
    expect(wider.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it('answers a wrong secret with 401 invalid_client, with a Basic challenge only after Basic', async () => {
    const t = await withClients()
    const viaBasic = await t.token(alice, basic(t.web.id, 'wrong'))
    expect(viaBasic.statusCode).toBe(401)
    expect(viaBasic.json()).toMatchObject({ error: 'invalid_client' })
    expect(viaBasic.headers['www-authenticate']).toBe('Basic realm="gatehouse"')
    const viaPost = await t.token({ ...alice, client_id: t.web.id, client_secret: 'wrong' })
    expect(viaPost.statusCode).toBe(401)
    expect(viaPost.headers['www-authenticate']).toBeUndefined()
    const garbled = await t.token(alice, 'Basic !!!')
    expect(garbled.statusCode).toBe(401)
    const confidentialWithoutSecret = await t.token({ ...alice, client_id: t.web.id })
    expect(confidentialWithoutSecret.statusCode).toBe(401)
  })

  it('refuses two authentication methods at once', async () => {
    const t = await withClients()
    const both = await t.token(
      { ...alice, client_secret: t.web.secret },
      basic(t.web.id, t.web.secret),
    )
    expect(both.statusCode).toBe(400)
    expect(both.json()).toMatchObject({ error: 'invalid_request' })
  })

  it('throttles failed client authentications like passwords', async () => {
    const t = await withClients({ THROTTLE_PAIR_LIMIT: '3' })
    for (let i = 0; i < 3; i++)
      expect((await t.token(alice, basic(t.web.id, `wrong-${i}`))).statusCode).toBe(401)
    const blocked = await t.token(alice, basic(t.web.id, t.web.secret))
    expect(blocked.statusCode).toBe(429)
  })

  it('with REQUIRE_CLIENT requires a registered client and enforces its grants', async () => {
    const t = await withClients({ REQUIRE_CLIENT: 'true' })
    const none = await t.token(alice)
    expect(none.statusCode).toBe(401)
    expect(none.json()).toMatchObject({ error: 'invalid_client' })
    expect((await t.token({ ...alice, client_id: 'swagger' })).statusCode).toBe(401)
    expect((await t.token(alice, basic('nobody', 'x'))).statusCode).toBe(401)
    expect((await t.token({ ...alice, client_id: t.spa.id })).statusCode).toBe(200)
    const wrongGrant = await t.token(alice, basic(t.orders.id, t.orders.secret))
    expect(wrongGrant.statusCode).toBe(400)
    expect(wrongGrant.json()).toMatchObject({ error: 'unauthorized_client' })
  })

  it('binds a refresh token to the client it was issued to', async () => {
    const t = await withClients()
    const login = await t.token({ ...alice, client_id: t.spa.id })
    const refresh = login.json<{ refresh_token: string }>().refresh_token
    const stranger = await t.token({ grant_type: 'refresh_token', refresh_token: refresh })
    expect(stranger.statusCode).toBe(400)
    expect(stranger.json()).toMatchObject({ error: 'invalid_grant' })
    const own = await t.token({
      grant_type: 'refresh_token',
      refresh_token: refresh,
      client_id: t.spa.id,
    })
    expect(own.statusCode).toBe(200)
  })

  it('ends the sessions opened through a client when the client is removed', async () => {
    const t = await withClients()
    const viaSpa = (await t.token({ ...alice, client_id: t.spa.id })).json<{
      access_token: string
      refresh_token: string
    }>()
    const direct = (await t.token(alice)).json<{ access_token: string }>()
    const me = (token: string) =>
      t.app.inject({ url: '/users/me/', headers: { authorization: `Bearer ${token}` } })
    expect((await me(viaSpa.access_token)).statusCode).toBe(200)

    await t.addUser({ username: 'root', scopes: ['me', 'admin'] })
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/admin/clients/${t.spa.id}`,
      headers: { authorization: `Bearer ${await t.login('root', 'correct horse battery')}` },
    })
    expect(removed.statusCode).toBe(204)
    expect((await me(viaSpa.access_token)).statusCode).toBe(401)
    expect((await me(direct.access_token)).statusCode).toBe(200)
    const refresh = await t.token({
      grant_type: 'refresh_token',
      refresh_token: viaSpa.refresh_token,
      client_id: t.spa.id,
    })
    expect(refresh.json()).toMatchObject({ error: 'invalid_grant' })
    const audit = await t.services.store.listAudit({ limit: 5 })
    expect(audit.find((event) => event.outcome === 'remove_client')?.detail).toBe(
      `client ${t.spa.id}: 1 session ended`,
    )
  })

  it('authenticates the client named at /revoke', async () => {
    const t = await withClients()
    const refresh = (await t.token(alice)).json<{ refresh_token: string }>().refresh_token
    expect((await t.form('/revoke', { token: refresh }, basic(t.web.id, 'wrong'))).statusCode).toBe(
      401,
    )
    expect(
      (await t.form('/revoke', { token: refresh }, basic(t.web.id, t.web.secret))).statusCode,
    ).toBe(200)
  })
})

describe('grant_type=client_credentials', () => {
  it('gives a confidential client a token of its own, with its scopes and no refresh token', async () => {
    const t = await withClients()
    const answer = await t.token(
      { grant_type: 'client_credentials' },
      basic(t.orders.id, t.orders.secret),
    )
    expect(answer.statusCode).toBe(200)
    const body = answer.json<Record<string, unknown>>()
    expect(body).toMatchObject({ token_type: 'bearer', scope: 'items' })
    expect(body.refresh_token).toBeUndefined()
    const claims = JSON.parse(
      Buffer.from(String(body.access_token).split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>
    expect(claims).toMatchObject({ sub: t.orders.id, client_id: t.orders.id, scope: 'items' })
    expect(claims.sid).toBeUndefined()
    // Gatehouse's own routes are a user's: a client's token is not one.
    const me = await t.app.inject({
      url: '/users/me/',
      headers: { authorization: `Bearer ${String(body.access_token)}` },
    })
    expect(me.statusCode).toBe(401)
  })

  it('gives a client registered for it no scopes unless it was given some', async () => {
    const t = await withClients()
    const { client, secret } = await t.services.clients.add(
      { name: 'worker', confidential: true, grants: ['client_credentials'] },
      TEST_ACTOR,
    )
    expect(client.scopes).toEqual([])
    const answer = await t.token(
      { grant_type: 'client_credentials' },
      basic(client.client_id, secret!),
    )
    expect(answer.statusCode).toBe(200)
    expect(answer.json()).toMatchObject({ scope: '' })
    const wider = await t.token(
      { grant_type: 'client_credentials', scope: 'me' },
      basic(client.client_id, secret!),
    )
    expect(wider.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it('refuses clients without the grant, public clients and requests naming no client', async () => {
    const t = await withClients()
    const web = await t.token({ grant_type: 'client_credentials' }, basic(t.web.id, t.web.secret))
    expect(web.json()).toMatchObject({ error: 'unauthorized_client' })
    const none = await t.token({ grant_type: 'client_credentials' })
    expect(none.statusCode).toBe(401)
    const spa = await t.token({ grant_type: 'client_credentials', client_id: t.spa.id })
    expect(spa.statusCode).toBeGreaterThanOrEqual(400)
    const wider = await t.token(
      { grant_type: 'client_credentials', scope: 'me' },
      basic(t.orders.id, t.orders.secret),
    )
    expect(wider.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it('is listed in the RFC 8414 metadata with the client authentication methods', async () => {
    const t = await withClients()
    const metadata = (await t.app.inject({ url: '/.well-known/oauth-authorization-server' })).json<
      Record<string, unknown>
    >()
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['client_credentials']))
    expect(metadata).toMatchObject({
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    })
    expect(metadata.introspection_endpoint).toBe(`${t.config.issuer}/introspect`)
  })
})

describe('the admin API for clients', () => {
  it('registers, lists, shows, re-keys and removes clients, for admins only', async () => {
    const t = await withClients()
    await t.addUser({ username: 'root', scopes: ['me', 'admin'] })
    const admin = { authorization: `Bearer ${await t.login('root', 'correct horse battery')}` }
    const user = { authorization: `Bearer ${await t.login('alice', 'correct horse battery')}` }
    expect((await t.app.inject({ url: '/admin/clients', headers: user })).statusCode).toBe(403)
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/clients',
      headers: admin,
      payload: {
        name: 'billing',
        confidential: true,
        grants: ['client_credentials'],
        scopes: ['items'],
      },
    })
    expect(created.statusCode).toBe(201)
    const { client_id: id, client_secret: secret } = created.json<{
      client_id: string
      client_secret: string
    }>()
    expect(secret).toMatch(/^[\w-]{43}$/)
    expect(created.json()).toMatchObject({ resource: null })
    const resourceServer = (resource: string) =>
      t.app.inject({
        method: 'POST',
        url: '/admin/clients',
        headers: admin,
        payload: { name: 'orders', confidential: true, resource },
      })
    const orders = await resourceServer('https://orders.example/api')
    expect(orders.statusCode).toBe(201)
    expect(orders.json()).toMatchObject({
      resource: 'https://orders.example/api',
      scopes: ['me', 'items'],
    })
    expect((await resourceServer('https://orders.example/api')).statusCode).toBe(400)
    expect((await resourceServer('https://orders.example/api#x')).statusCode).toBe(400)
    expect((await resourceServer('orders')).statusCode).toBe(400)
    await t.services.clients.remove(orders.json<{ client_id: string }>().client_id, TEST_ACTOR)
    const listed = await t.app.inject({ url: '/admin/clients', headers: admin })
    expect(listed.json()).toHaveLength(4)
    expect(listed.body).not.toContain(secret)
    expect(
      (await t.app.inject({ url: `/admin/clients/${id}`, headers: admin })).json(),
    ).toMatchObject({
      name: 'billing',
    })
    const rotated = await t.app.inject({
      method: 'POST',
      url: `/admin/clients/${id}/secret`,
      headers: admin,
    })
    const next = rotated.json<{ client_secret: string }>().client_secret
    expect(next).not.toBe(secret)
    const old = await t.token({ grant_type: 'client_credentials' }, basic(id, secret))
    expect(old.statusCode).toBe(401)
    expect((await t.token({ grant_type: 'client_credentials' }, basic(id, next))).statusCode).toBe(
      200,
    )
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/admin/clients/${id}`, headers: admin }))
        .statusCode,
    ).toBe(204)
    expect((await t.app.inject({ url: `/admin/clients/${id}`, headers: admin })).statusCode).toBe(
      404,
    )
    const audit = await t.services.store.listAudit({ limit: 20 })
    expect(
      audit
        .filter((event) => event.detail?.startsWith(`client ${id}`))
        .map((event) => [event.outcome, event.actor]),
    ).toEqual(
      expect.arrayContaining([
        ['create_client', 'root'],
        ['rotate_client_secret', 'root'],
        ['remove_client', 'root'],
      ]),
    )
  })
})
