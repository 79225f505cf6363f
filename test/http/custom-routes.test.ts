// What the README promises a developer: protect a route of your own in one line.
import { describe, expect, it } from 'vitest'
import { PublicUserSchema } from '../../src/index.js'
import { build } from '../helper.js'

describe('protecting your own routes', () => {
  it('gives a route protected with onRequest: app.authenticate a typed request.user', async () => {
    const t = await build()
    t.app.get('/greeting', { onRequest: t.app.authenticate }, async (request) => ({
      hello: request.user.username,
    }))
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const token = await t.login('alice', 'alice-password')

    const ok = await t.app.inject({
      method: 'GET',
      url: '/greeting',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(ok.json()).toEqual({ hello: 'alice' })
    const anonymous = await t.app.inject({ method: 'GET', url: '/greeting' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toEqual({ detail: 'Not authenticated' })

    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get: { security?: unknown } }>
    }>()
    expect(doc.paths['/greeting']?.get.security).toEqual([{ OAuth2PasswordBearer: [] }])
  })

  it('drops a password hash that a careless route returns, through the PublicUser response schema', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password' })
    t.app.get('/careless', { schema: { response: { 200: PublicUserSchema } } }, async () => {
      const record = await t.store.findUserByUsername('alice')
      return { ...record, full_name: null, hashed_password: record?.hashedPassword }
    })
    const response = await t.app.inject({ method: 'GET', url: '/careless' })
    expect(response.statusCode).toBe(200)
    expect(response.body).not.toContain('argon2')
    expect(Object.keys(response.json<object>()).sort()).toEqual([
      'disabled',
      'email',
      'full_name',
      'username',
    ])
  })
})
