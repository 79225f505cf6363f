import { describe, expect, it } from 'vitest'
import { build, TEST_ACTOR, tokenRequest } from '../helper.js'
import { freshSchema, skipPostgres } from '../support/postgres.js'

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

async function setUp(databaseUrl?: string) {
  const t = await build(databaseUrl ? { databaseUrl } : {})
  await t.addUser({ username: 'alice' })
  const rs = await t.services.clients.add(
    {
      name: 'orders',
      confidential: true,
      grants: ['client_credentials'],
      scopes: ['items'],
      resource: 'https://orders.example',
    },
    TEST_ACTOR,
  )
  const spa = await t.services.clients.add({ name: 'spa' }, TEST_ACTOR)
  // The app users log in through: their refresh tokens are its own, and only it may introspect them
  // (as a resource server: its backend serves its own API).
  const web = await t.services.clients.add(
    { name: 'web', confidential: true, resource: 'https://web.example' },
    TEST_ACTOR,
  )
  const auth = basic(rs.client.client_id, rs.secret!)
  const webAuth = basic(web.client.client_id, web.secret!)
  const introspect = async (token: string, authorization = auth, hint?: string) => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
      payload: new URLSearchParams({
        token,
        ...(hint ? { token_type_hint: hint } : {}),
      }).toString(),
    })
    return response
  }
  const login = async (authorization: string | null = webAuth) => {
    const request = tokenRequest({ username: 'alice', password: 'correct horse battery' })
    return (
      await t.app.inject({
        ...request,
        headers: { ...request.headers, ...(authorization ? { authorization } : {}) },
      })
    ).json<{
      access_token: string
      refresh_token: string
    }>()
  }
  return { ...t, rs, spa, web, auth, webAuth, introspect, login }
}

function introspectionCases(name: string, databaseUrl: () => Promise<string | undefined>) {
  describe(`POST /introspect (${name})`, () => {
    it('describes a live access token and a live refresh token from the live state', async () => {
      const t = await setUp(await databaseUrl())
      const tokens = await t.login()
      const access = await t.introspect(tokens.access_token)
      expect(access.statusCode).toBe(200)
      const body = access.json<Record<string, unknown>>()
      expect(body).toMatchObject({
        active: true,
        sub: 'alice',
        username: 'alice',
        scope: 'me items',
        token_type: 'Bearer',
        iss: t.config.issuer,
        aud: t.config.audience,
      })
      expect(body.sid).toEqual(expect.any(String))
      expect(body.exp).toBeGreaterThan(Date.now() / 1000)
      const refresh = (await t.introspect(tokens.refresh_token, t.webAuth)).json<
        Record<string, unknown>
      >()
      expect(refresh).toMatchObject({
        active: true,
        sub: 'alice',
        sid: body.sid,
        token_type: 'refresh_token',
        client_id: t.web.client.client_id,
      })

      await t.services.accounts.setScopes('alice', ['me'], TEST_ACTOR)
      expect((await t.introspect(tokens.access_token)).json()).toMatchObject({
        active: true,
        scope: 'me',
      })
      await t.services.sessions.revokeToken(tokens.refresh_token)
      expect((await t.introspect(tokens.access_token)).json()).toEqual({ active: false })
      expect((await t.introspect(tokens.refresh_token, t.webAuth)).json()).toEqual({
        active: false,
      })
    })

    it('shows a disabled user’s tokens inactive at once', async () => {
      const t = await setUp(await databaseUrl())
      const tokens = await t.login()
      await t.services.accounts.setDisabled('alice', true, TEST_ACTOR)
      expect((await t.introspect(tokens.access_token)).json()).toEqual({ active: false })
      expect((await t.introspect(tokens.refresh_token, t.webAuth, 'refresh_token')).json()).toEqual(
        {
          active: false,
        },
      )
    })

    it('describes a refresh token only to the client it was issued to', async () => {
      const t = await setUp(await databaseUrl())
      const tokens = await t.login()
      for (const hint of [undefined, 'refresh_token']) {
        expect((await t.introspect(tokens.refresh_token, t.auth, hint)).json()).toEqual({
          active: false,
        })
        expect((await t.introspect(tokens.refresh_token, t.webAuth, hint)).json()).toMatchObject({
          active: true,
        })
      }
      // One issued to no client belongs to no caller.
      const anonymous = await t.login(null)
      expect((await t.introspect(anonymous.refresh_token, t.webAuth)).json()).toEqual({
        active: false,
      })
    })

    it('describes a client token while its client is registered', async () => {
      const t = await setUp(await databaseUrl())
      const issued = await t.app.inject({
        ...tokenRequest({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: t.auth },
      })
      const token = issued.json<{ access_token: string }>().access_token
      expect((await t.introspect(token)).json()).toMatchObject({
        active: true,
        sub: t.rs.client.client_id,
        client_id: t.rs.client.client_id,
        scope: 'items',
      })
      const other = await t.services.clients.add(
        {
          name: 'x',
          confidential: true,
          grants: ['client_credentials'],
          resource: 'https://x.example',
        },
        TEST_ACTOR,
      )
      await t.services.clients.remove(t.rs.client.client_id, TEST_ACTOR)
      expect(
        (await t.introspect(token, basic(other.client.client_id, other.secret!))).json(),
      ).toEqual({ active: false })
    })
  })
}

introspectionCases('SQLite', async () => undefined)
describe.skipIf(skipPostgres)('on PostgreSQL', () => {
  introspectionCases('PostgreSQL', async () => (await freshSchema()).url)
})

describe('POST /introspect callers and odd tokens', () => {
  it('answers only authenticated confidential clients', async () => {
    const t = await setUp()
    const tokens = await t.login()
    const anonymous = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${tokens.access_token}`,
    })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ error: 'invalid_client' })
    const wrong = await t.introspect(tokens.access_token, basic(t.rs.client.client_id, 'nope'))
    expect(wrong.statusCode).toBe(401)
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="gatehouse"')
    const publicClient = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${tokens.access_token}&client_id=${t.spa.client.client_id}`,
    })
    expect(publicClient.statusCode).toBe(401)
  })

  it('answers only clients registered as resource servers', async () => {
    const t = await setUp()
    const tokens = await t.login()
    // A login client with a secret, but no resource: it may not read other clients' tokens.
    const login = await t.services.clients.add({ name: 'login', confidential: true }, TEST_ACTOR)
    const viaBasic = await t.introspect(
      tokens.access_token,
      basic(login.client.client_id, login.secret!),
    )
    expect(viaBasic.statusCode).toBe(401)
    expect(viaBasic.json()).toMatchObject({ error: 'invalid_client' })
    expect(viaBasic.headers['www-authenticate']).toBe('Basic realm="gatehouse"')
    const viaPost = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        token: tokens.access_token,
        client_id: login.client.client_id,
        client_secret: login.secret!,
      }).toString(),
    })
    expect(viaPost.statusCode).toBe(401)
    expect(viaPost.json()).toMatchObject({ error: 'invalid_client' })
    expect((await t.introspect(tokens.access_token)).json()).toMatchObject({ active: true })
  })

  it('answers {"active": false} for anything that is not a live token', async () => {
    const t = await setUp()
    for (const token of [
      'x',
      'a.b.c',
      'eyJhbGciOiJub25lIn0.e30.',
      '\u0000',
      'é'.repeat(300),
      '.'.repeat(8000),
    ]) {
      const answer = await t.introspect(token)
      expect(answer.statusCode).toBe(200)
      expect(answer.json()).toEqual({ active: false })
    }
    const missing = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: t.auth },
      payload: '',
    })
    expect(missing.statusCode).toBe(400)
  })
})
