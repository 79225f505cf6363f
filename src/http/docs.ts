// The OpenAPI 3 document (/openapi.json) and Swagger UI (/docs), both served from installed
// packages, branded as Gatehouse (public/docs.css, its logo and icon). The OAuth2 password flow's
// tokenUrl is `token`, as in FastAPI, so Authorize logs in for real.
import { readFile } from 'node:fs/promises'
import type { FastifyInstance, FastifySchema } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SECURITY_SCHEME } from './auth.js'

// Relative to this module, two levels below the package root as src/http/*.ts and dist/http/*.js.
const PUBLIC_DIR = new URL('../../public/', import.meta.url)

// What an answer means when its schema does not say. Swagger UI shows an undescribed response as
// "Default Response", which tells a reader nothing. Protected routes first: there the 4xx come from
// the authenticate hook.
const PROTECTED_ROUTE_RESPONSES: Readonly<Record<string, string>> = {
  400: 'Inactive user, or an invalid request',
  401: 'Invalid or missing token',
  403: 'Not enough permissions: the token lacks a required scope',
}
const TOKEN_ENDPOINT_RESPONSES: Readonly<Record<string, string>> = {
  400: 'Invalid request, grant or scope (the RFC 6749 code is in `error`)',
  401: 'Incorrect username or password',
}
const RESPONSES: Readonly<Record<string, string>> = {
  200: 'Successful Response',
  201: 'Created',
  204: 'Done',
  400: 'Invalid request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Request body too large',
  429: 'Too many failed login attempts; try again after Retry-After seconds',
  503: 'Temporarily unavailable; try again after Retry-After seconds',
}

function describeResponse(schema: FastifySchema, url: string, status: string): string {
  const specific = schema.security
    ? PROTECTED_ROUTE_RESPONSES
    : url === '/token'
      ? TOKEN_ENDPOINT_RESPONSES
      : {}
  return specific[status] ?? RESPONSES[status] ?? 'Response'
}

/**
 * The route's schema as the OpenAPI document shows it: every response described, shared schemas
 * (ErrorSchema) copied rather than changed. Documentation only: validation and serialization use the
 * route's own schema.
 */
function describeResponses(schema: FastifySchema | undefined, url: string): FastifySchema {
  const route: FastifySchema = schema ?? {}
  const responses = (route.response as Record<string, unknown> | undefined) ?? { 200: {} }
  const described = Object.entries(responses).map(([status, response]) => [
    status,
    typeof response === 'object' && response !== null && !('description' in response)
      ? { ...response, description: describeResponse(route, url, status) }
      : response,
  ])
  return { ...route, response: Object.fromEntries(described) }
}

export async function registerDocs(
  app: FastifyInstance,
  version: string,
  scopes: Readonly<Record<string, string>>,
): Promise<void> {
  const asset = (file: string) => readFile(new URL(file, PUBLIC_DIR))
  const [css, icon, logo] = [
    await asset('docs.css'),
    await asset('favicon.svg'),
    await asset('docs-logo.svg'),
  ]
  await app.register(swagger, {
    // Routes' schemas as the authenticate hook left them, so protected routes have their 401 and 403.
    transform: ({ schema, url }) => ({ schema: describeResponses(schema, url), url }),
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version,
        description:
          'OAuth2 password-flow authentication with bearer JWTs. **Authorize** signs in with a ' +
          'username and password; the OpenAPI document is at [/openapi.json](/openapi.json).',
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
    theme: {
      title: 'Gatehouse API',
      css: [{ filename: 'gatehouse.css', content: css.toString('utf8') }],
      favicon: [
        {
          filename: 'favicon.svg',
          rel: 'icon',
          type: 'image/svg+xml',
          sizes: 'any',
          content: icon,
        },
      ],
    },
    logo: { type: 'image/svg+xml', content: logo, href: '/docs', target: '_self' },
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
