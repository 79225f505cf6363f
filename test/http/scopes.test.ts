// Scopes (FastAPI's "OAuth2 scopes" chapter; RFC 6749 §3.3, RFC 6750 §3.1).
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { build, TEST_ACTOR, TEST_SECRET, tokenRequest, type TestApp } from '../helper.js'

async function withAlice(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await build({ env })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  return t
}

const token = (t: TestApp, scope?: string) =>
  t.app.inject(
    tokenRequest({
      username: 'alice',
      password: 'alice-password',
      ...(scope === undefined ? {} : { scope }),
    }),
  )

const claimsOf = (accessToken: string) =>
  JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { scope: string }

describe('scopes', () => {
  it('grant the user’s default scopes when none are requested, and say so', async () => {
    const t = await withAlice()
    const body = (await token(t)).json<{ access_token: string; scope: string }>()
    expect(body.scope).toBe('me items')
    expect(claimsOf(body.access_token).scope).toBe('me items')
  })

  it('grant exactly the requested scopes and leave scope out of the answer when it matches', async () => {
    const t = await withAlice()
    const body = (await token(t, 'items')).json<{ access_token: string; scope?: string }>()
    expect(body.scope).toBeUndefined()
    expect(claimsOf(body.access_token).scope).toBe('items')
  })

  it.each([
    ['an unknown scope', 'me admin'],
    ['a malformed scope', 'me "quoted"'],
  ])('refuse %s with invalid_scope', async (_name, scope) => {
    const t = await withAlice()
    const response = await token(t, scope)
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it('refuse a scope the user was not granted', async () => {
    const t = await withAlice()
    await t.store.setScopes('alice', ['items'])
    const response = await token(t, 'me')
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ error: 'invalid_scope' })
    expect((await token(t)).json<{ scope: string }>().scope).toBe('items')
  })

  it('answer 403 insufficient_scope on a route that needs a scope the token lacks', async () => {
    const t = await withAlice()
    const { access_token } = (await token(t, 'items')).json<{ access_token: string }>()
    const response = await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${access_token}` },
    })
    expect(response.statusCode).toBe(403)
    expect(response.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="me"',
    )
    expect(response.json()).toEqual({ detail: 'Not enough permissions' })
    const items = await t.app.inject({
      method: 'GET',
      url: '/users/me/items/',
      headers: { authorization: `Bearer ${access_token}` },
    })
    expect(items.statusCode).toBe(200)
  })

  it('protect a developer’s route in one line, with scopes from SCOPES', async () => {
    const t = await withAlice({
      SCOPES: 'reports=Read reports',
      DEFAULT_SCOPES: 'me items reports',
    })
    t.app.get('/reports', { onRequest: t.app.requireScopes('reports') }, async (request) => ({
      for: request.user.username,
      scopes: request.auth.scopes,
    }))
    const { access_token } = (await token(t)).json<{ access_token: string }>()
    const ok = await t.app.inject({
      method: 'GET',
      url: '/reports',
      headers: { authorization: `Bearer ${access_token}` },
    })
    expect(ok.json()).toEqual({ for: 'alice', scopes: ['me', 'items', 'reports'] })
    const narrow = (await token(t, 'me')).json<{ access_token: string }>().access_token
    const denied = await t.app.inject({
      method: 'GET',
      url: '/reports',
      headers: { authorization: `Bearer ${narrow}` },
    })
    expect(denied.statusCode).toBe(403)
    expect(denied.headers['www-authenticate']).toContain('scope="reports"')
  })

  it('are listed in the OpenAPI password flow, for the Authorize dialog', async () => {
    const t = await withAlice({ SCOPES: 'reports=Read reports' })
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      components: {
        securitySchemes: {
          OAuth2PasswordBearer: { flows: { password: { scopes: Record<string, string> } } }
        }
      }
    }>()
    expect(doc.components.securitySchemes.OAuth2PasswordBearer.flows.password.scopes).toEqual({
      me: 'Read information about the current user.',
      items: 'Read items.',
      admin: 'Manage users and read the audit log.',
      reports: 'Read reports',
    })
  })

  it('refuse a configuration whose defaults name unknown scopes', async () => {
    await expect(build({ env: { DEFAULT_SCOPES: 'me nope' } })).rejects.toThrow(
      /DEFAULT_SCOPES: 'nope'/,
    )
  })
})

describe('scopes bounded by the grant', () => {
  /** The token, signed again (with the deployment's key) claiming `scope`: what a leaked key could mint. */
  const resigned = (accessToken: string, scope: string): string => {
    const [header, payload] = accessToken.split('.') as [string, string]
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
      string,
      unknown
    >
    const body = Buffer.from(JSON.stringify({ ...claims, scope })).toString('base64url')
    const signature = createHmac('sha256', TEST_SECRET).update(`${header}.${body}`).digest()
    return `${header}.${body}.${signature.toString('base64url')}`
  }

  async function adminThroughClient(clientScopes: string[]) {
    const t = await build()
    await t.addUser({
      username: 'root',
      password: 'root-password',
      scopes: ['me', 'items', 'admin'],
    })
    const { client } = await t.services.clients.add(
      { name: 'web', scopes: clientScopes },
      TEST_ACTOR,
    )
    const response = await t.app.inject(
      tokenRequest({ username: 'root', password: 'root-password', client_id: client.client_id }),
    )
    expect(response.statusCode).toBe(200)
    return { t, accessToken: response.json<{ access_token: string }>().access_token }
  }

  const adminUsers = (t: TestApp, accessToken: string) =>
    t.app.inject({
      method: 'GET',
      url: '/admin/users',
      headers: { authorization: `Bearer ${accessToken}` },
    })

  it('refuse a scope a token claims beyond what its session’s client may have', async () => {
    const { t, accessToken } = await adminThroughClient(['me', 'items'])
    expect(claimsOf(accessToken).scope).toBe('me items')
    const forged = resigned(accessToken, 'me items admin')
    const response = await adminUsers(t, forged)
    expect(response.statusCode).toBe(403)
    expect(response.headers['www-authenticate']).toContain('insufficient_scope')
    // The scopes it was given still work.
    const me = await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${forged}` },
    })
    expect(me.statusCode).toBe(200)
  })

  it('refuse a scope a token claims beyond what its session was granted', async () => {
    const t = await build()
    await t.addUser({
      username: 'root',
      password: 'root-password',
      scopes: ['me', 'items', 'admin'],
    })
    const response = await t.app.inject(
      tokenRequest({ username: 'root', password: 'root-password', scope: 'me' }),
    )
    const forged = resigned(response.json<{ access_token: string }>().access_token, 'me admin')
    expect((await adminUsers(t, forged)).statusCode).toBe(403)
  })

  it('show in introspection only the scopes the session and its client allow', async () => {
    const { t, accessToken } = await adminThroughClient(['me', 'items'])
    const rs = await t.services.clients.add(
      {
        name: 'orders',
        confidential: true,
        grants: ['client_credentials'],
        scopes: [],
        resource: 'https://orders.example',
      },
      TEST_ACTOR,
    )
    const response = await t.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${rs.client.client_id}:${rs.secret!}`).toString('base64')}`,
      },
      payload: new URLSearchParams({ token: resigned(accessToken, 'me items admin') }).toString(),
    })
    expect(response.json()).toMatchObject({ active: true, scope: 'me items' })
  })
})
