// The OpenAPI 3 document (/openapi.json) and Swagger UI (/docs), both served from installed
// packages. The OAuth2 password flow's tokenUrl is `token`, as in FastAPI, so Authorize logs in for real.
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SECURITY_SCHEME } from './auth.js'

export async function registerDocs(
  app: FastifyInstance,
  version: string,
  scopes: Readonly<Record<string, string>>,
): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version,
        description: 'OAuth2 password-flow authentication with bearer JWTs.',
      },
      components: {
        securitySchemes: {
          [SECURITY_SCHEME]: {
            type: 'oauth2',
            flows: { password: { tokenUrl: 'token', scopes: { ...scopes } } },
          },
        },
      },
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: false },
    uiHooks: {
      // Swagger UI resolves the relative tokenUrl against the page: from /docs/ it would POST to /docs/token.
      onRequest: (request, reply, done) => {
        const [path, query] = request.url.split('?', 2)
        if (path === '/docs/') reply.redirect(query === undefined ? '/docs' : `/docs?${query}`, 301)
        else done()
      },
    },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
