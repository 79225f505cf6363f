// RFC 8707 audiences: a token request may name a registered resource server (`resource=`), whose
// URI becomes the token's `aud`; Gatehouse's own routes then refuse it, introspection describes it.
import { describe, expect, it } from 'vitest'
import { build, TEST_ACTOR, tokenRequest } from '../helper.js'

const ORDERS = 'https://orders.example'
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
const audOf = (token: string): unknown =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { aud: unknown })
    .aud

async function setUp() {
  const t = await build()
  await t.addUser({ username: 'alice' })
  const rs = await t.services.clients.add(
    {
      name: 'orders',
      confidential: true,
      grants: ['client_credentials'],
      scopes: ['items'],
      resource: ORDERS,
    },
    TEST_ACTOR,
  )
  const rsAuth = basic(rs.client.client_id, rs.secret!)
  const token = (fields: Record<string, string>, authorization?: string) => {
    const request = tokenRequest(fields)
    return t.app.inject({
      ...request,
      headers: { ...request.headers, ...(authorization ? { authorization } : {}) },
    })
  }
  const login = (extra: Record<string, string> = {}) =>
    token({ username: 'alice', password: 'correct horse battery', ...extra })
  const me = (accessToken: string) =>
    t.app.inject({ url: '/users/me/', headers: { authorization: `Bearer ${accessToken}` } })
  const introspect = (accessToken: string) =>
    t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: rsAuth },
      payload: new URLSearchParams({ token: accessToken }).toString(),
    })
  return { ...t, rs, rsAuth, token, login, me, introspect }
}

describe('resource= on token requests (RFC 8707)', () => {
  it('makes a registered resource the token’s aud, which Gatehouse’s own routes refuse', async () => {
    const t = await setUp()
    const response = await t.login({ resource: ORDERS })
    expect(response.statusCode).toBe(200)
    const { access_token: accessToken } = response.json<{ access_token: string }>()
    expect(audOf(accessToken)).toBe(ORDERS)
    const refused = await t.me(accessToken)
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['www-authenticate']).toContain('invalid_token')
    const admin = await t.app.inject({
      url: '/admin/users',
      headers: { authorization: `Bearer ${accessToken}` },
    })
    expect(admin.statusCode).toBe(401)
    // Introspection answers for every audience, and says which.
    expect((await t.introspect(accessToken)).json()).toMatchObject({
      active: true,
      username: 'alice',
      aud: ORDERS,
    })
  })

  it('keeps today’s audience without resource=', async () => {
    const t = await setUp()
    const { access_token: accessToken } = (await t.login()).json<{ access_token: string }>()
    expect(audOf(accessToken)).toBe(t.config.audience)
    expect((await t.me(accessToken)).statusCode).toBe(200)
    expect((await t.introspect(accessToken)).json()).toMatchObject({
      active: true,
      aud: t.config.audience,
    })
  })

  it('refuses a resource no client is registered for with invalid_target, on every grant', async () => {
    const t = await setUp()
    const { refresh_token: refreshToken } = (await t.login()).json<{ refresh_token: string }>()
    const requests = [
      t.login({ resource: 'https://unknown.example' }),
      t.token({ grant_type: 'refresh_token', refresh_token: refreshToken, resource: 'urn:x' }),
      t.token({ grant_type: 'client_credentials', resource: 'https://orders.example/' }, t.rsAuth),
      t.token({
        grant_type: 'http://auth0.com/oauth/grant-type/mfa-otp',
        mfa_token: 'x',
        otp: '123456',
        resource: 'https://unknown.example',
      }),
      t.token({
        grant_type: 'http://auth0.com/oauth/grant-type/mfa-recovery-code',
        mfa_token: 'x',
        recovery_code: 'x',
        resource: '',
      }),
    ]
    for (const response of await Promise.all(requests)) {
      expect(response.statusCode).toBe(400)
      expect(response.json()).toMatchObject({ error: 'invalid_target' })
    }
    // The refresh token was not spent by the refused request.
    const refreshed = await t.token({ grant_type: 'refresh_token', refresh_token: refreshToken })
    expect(refreshed.statusCode).toBe(200)
  })

  it('issues a refresh for the resource it names, and for Gatehouse without one', async () => {
    const t = await setUp()
    const first = (await t.login({ resource: ORDERS })).json<{ refresh_token: string }>()
    const forOrders = await t.token({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      resource: ORDERS,
    })
    expect(forOrders.statusCode).toBe(200)
    const second = forOrders.json<{ access_token: string; refresh_token: string }>()
    expect(audOf(second.access_token)).toBe(ORDERS)
    const own = (
      await t.token({ grant_type: 'refresh_token', refresh_token: second.refresh_token })
    ).json<{ access_token: string }>()
    expect(audOf(own.access_token)).toBe(t.config.audience)
    expect((await t.me(own.access_token)).statusCode).toBe(200)
  })

  it('issues a client_credentials token for a registered resource', async () => {
    const t = await setUp()
    const response = await t.token({ grant_type: 'client_credentials', resource: ORDERS }, t.rsAuth)
    expect(response.statusCode).toBe(200)
    const { access_token: accessToken } = response.json<{ access_token: string }>()
    expect(audOf(accessToken)).toBe(ORDERS)
    expect((await t.introspect(accessToken)).json()).toMatchObject({ active: true, aud: ORDERS })
  })

  it('ends the session of a resource’s token revoked at /revoke', async () => {
    const t = await setUp()
    const { access_token: accessToken } = (await t.login({ resource: ORDERS })).json<{
      access_token: string
    }>()
    await t.services.sessions.revokeToken(accessToken)
    expect((await t.introspect(accessToken)).json()).toEqual({ active: false })
  })
})
