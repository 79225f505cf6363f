// The OpenAPI 3 document (/openapi.json) and Swagger UI (/docs), both served from installed
// packages. The OAuth2 password flow points at the real token endpoint, so Authorize logs in for real.
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SECURITY_SCHEME } from './auth.js'
import { TOKEN_PATH } from './routes/token.js'

export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Gatehouse', version, description: 'OAuth2 password-flow authentication with bearer JWTs.' },
      components: {
        securitySchemes: {
          // An absolute path, not FastAPI's relative `token`: Swagger UI resolves a relative tokenUrl
          // against the page, so from /docs/ it would POST to /docs/token. No host, so no Host header.
          [SECURITY_SCHEME]: { type: 'oauth2', flows: { password: { tokenUrl: TOKEN_PATH, scopes: {} } } },
        },
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
