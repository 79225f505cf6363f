import { describe, expect, it } from 'vitest'
import { build } from '../helper.js'

interface OpenApi {
  openapi: string
  components: {
    securitySchemes: Record<string, { type: string; flows: { password: { tokenUrl: string } } }>
  }
  paths: Record<
    string,
    Record<string, { security?: unknown[]; requestBody?: { content: Record<string, unknown> } }>
  >
}

describe('interactive docs', () => {
  it('publishes OpenAPI 3 with an OAuth2 password flow whose tokenUrl is token, as FastAPI does', async () => {
    const t = await build()
    const response = await t.app.inject({ method: 'GET', url: '/openapi.json' })
    expect(response.statusCode).toBe(200)
    const doc = response.json<OpenApi>()
    expect(doc.openapi).toMatch(/^3\./)
    expect(doc.components.securitySchemes.OAuth2PasswordBearer).toMatchObject({
      type: 'oauth2',
      flows: { password: { tokenUrl: 'token' } },
    })
    expect(doc.paths['/token']?.post?.requestBody?.content).toHaveProperty(
      'application/x-www-form-urlencoded',
    )
    expect(doc.paths['/token']?.post?.security).toBeUndefined()
  })

  it('declares the security scheme on every protected route and only there', async () => {
    const t = await build()
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApi>()
    expect(doc.paths['/users/me/']?.get?.security).toEqual([{ OAuth2PasswordBearer: ['me'] }])
    expect(doc.paths['/users/me/items/']?.get?.security).toEqual([
      { OAuth2PasswordBearer: ['items'] },
    ])
    expect(doc.paths['/logout']?.post?.security).toEqual([{ OAuth2PasswordBearer: [] }])
    expect(doc.paths['/healthz']?.get?.security).toBeUndefined()
  })

  it('serves Swagger UI and its assets from the installed package, with no CDN', async () => {
    const t = await build()
    const page = await t.app.inject({ method: 'GET', url: '/docs' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.body).toContain('swagger-ui')
    const external = [...page.body.matchAll(/(?:src|href)="(https?:)?\/\//g)]
    expect(external).toEqual([])
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'swagger-initializer.js']) {
      expect((await t.app.inject({ method: 'GET', url: `/docs/static/${asset}` })).statusCode).toBe(
        200,
      )
    }
  })

  it('describes every response of every operation, errors included', async () => {
    const t = await build()
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>
    }>()
    const undescribed = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        Object.entries(operation.responses)
          .filter(
            ([, response]) => !response.description || response.description === 'Default Response',
          )
          .map(([status]) => `${method.toUpperCase()} ${path} ${status}`),
      ),
    )
    expect(undescribed).toEqual([])
    const me = doc.paths['/users/me/']?.get?.responses
    expect(me?.['401']?.description).toBe('Invalid or missing token')
    expect(me?.['403']?.description).toMatch(/scope/)
    expect(doc.paths['/token']?.post?.responses['401']?.description).toBe(
      'Incorrect username or password',
    )
  })

  it('describes the responses of routes added after buildApp too', async () => {
    const t = await build()
    t.app.get('/orders', { onRequest: t.app.requireScopes('items') }, async () => [])
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>
    }>()
    expect(doc.paths['/orders']?.get?.responses['401']?.description).toBe(
      'Invalid or missing token',
    )
  })

  it('brands /docs as Gatehouse: title, icon, stylesheet and logo served locally', async () => {
    const t = await build()
    const page = await t.app.inject({ method: 'GET', url: '/docs' })
    expect(page.body).toContain('<title>Gatehouse API</title>')
    expect(page.body).not.toContain('favicon-32x32.png')
    for (const [asset, type] of [
      ['/docs/static/theme/gatehouse.css', 'text/css'],
      ['/docs/static/theme/favicon.svg', 'image/svg+xml'],
    ] as const) {
      const answer = await t.app.inject({ method: 'GET', url: asset })
      expect(answer.statusCode, asset).toBe(200)
      expect(answer.headers['content-type']).toContain(type)
    }
    const initializer = await t.app.inject({
      method: 'GET',
      url: '/docs/static/swagger-initializer.js',
    })
    // The logo replaces Fastify's as a data: URL, so it needs no request of its own.
    expect(initializer.body).toContain('data:image/svg+xml;base64,')
  })

  it('answers /healthz', async () => {
    const t = await build()
    const response = await t.app.inject({ method: 'GET', url: '/healthz' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
  })
})
