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

  it('answers /healthz', async () => {
    const t = await build()
    const response = await t.app.inject({ method: 'GET', url: '/healthz' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
  })
})
