// HTTP details a client meets: methods a path does not answer, empty answers, missing bodies.
import { describe, expect, it } from 'vitest'
import { build } from '../helper.js'

describe('HTTP details', () => {
  it('answers 405 with Allow for a known path asked with another method, as FastAPI does', async () => {
    const t = await build()
    const response = await t.app.inject({ method: 'GET', url: '/token' })
    expect(response.statusCode).toBe(405)
    expect(response.headers.allow).toBe('POST')
    expect(response.json()).toEqual({ detail: 'Method Not Allowed' })
    const unknown = await t.app.inject({ method: 'GET', url: '/no-such-path' })
    expect(unknown.statusCode).toBe(404)
    const parametric = await t.app.inject({ method: 'PUT', url: '/admin/users/alice' })
    expect(parametric.statusCode).toBe(405)
    expect(parametric.headers.allow).toBe('DELETE, GET, HEAD, PATCH')
  })

  it('answers POST /revoke with an empty body', async () => {
    const t = await build()
    const response = await t.app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=whatever',
    })
    expect(response.statusCode).toBe(200)
    expect(response.body).toBe('')
  })

  it('says in words that /token needs a form body', async () => {
    const t = await build()
    const response = await t.app.inject({ method: 'POST', url: '/token' })
    expect(response.statusCode).toBe(400)
    expect(response.json<{ detail: string; error: string }>()).toMatchObject({
      error: 'invalid_request',
      detail: 'The request needs a form body (application/x-www-form-urlencoded)',
    })
  })
})
