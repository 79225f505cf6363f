// buildApp: a Fastify instance with every plugin and route registered on the services that
// compose.ts wired. It never listens: server.ts does, and tests call it with `inject`.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Services } from './compose.js'
import { AccessLog } from './http/access-log.js'
import { registerAuthentication } from './http/auth.js'
import { registerCors } from './http/cors.js'
import { registerDocs } from './http/docs.js'
import {
  answerClientError,
  answerUnroutableRequest,
  registerErrorHandling,
} from './http/error-handler.js'
import { adminRoutes } from './http/routes/admin.js'
import { adminClientRoutes } from './http/routes/admin-clients.js'
import { discoveryRoutes } from './http/routes/discovery.js'
import { healthRoutes } from './http/routes/health.js'
import { loginPageRoutes } from './http/routes/login-page.js'
import { mfaRoutes } from './http/routes/mfa.js'
import { recoveryRoutes } from './http/routes/recovery.js'
import { revocationEventRoutes } from './http/routes/revocation-events.js'
import { sessionRoutes } from './http/routes/sessions.js'
import { tokenRoutes } from './http/routes/token.js'
import { userRoutes } from './http/routes/users.js'
import type { Metrics } from './metrics.js'
import { VERSION } from './version.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics, when METRICS=true (server.ts serves them on METRICS_PORT). */
    metrics: Metrics | undefined
  }
}

export async function buildApp(services: Services): Promise<FastifyInstance> {
  const { config, metrics } = services
  // Typed as Fastify's logger so the instance keeps Fastify's default generics.
  const loggerInstance: FastifyBaseLogger = services.logger
  const app = Fastify({
    loggerInstance,
    logController: new AccessLog(),
    bodyLimit: config.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: answerUnroutableRequest,
    clientErrorHandler: answerClientError,
    // request.ip is the socket's address unless the connection comes from a listed proxy.
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
  })
  app.addHook('onReady', async () => {
    await services.calibrate()
    services.maintenance.start()
    services.mailer.start()
  })
  app.addHook('onClose', () => services.maintenance.stop())
  app.addHook('onClose', () => services.mailer.stop())

  app.decorate('metrics', metrics)
  // First of the request hooks, so that every other one runs inside the request's span.
  if (services.tracing) {
    const { registerRequestSpans } = await import('./tracing/request-spans.js')
    registerRequestSpans(app, services.tracing)
  }
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeRequest(
        request.routeOptions.url ?? 'unmatched',
        request.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      )
    })
  }

  registerErrorHandling(app)
  // Before every route, so that preflights and error answers carry the CORS headers too.
  await registerCors(app, config.corsOrigins)
  registerAuthentication(app, services.currentUser)
  await registerDocs(app, VERSION, services.scopes.known)
  await app.register(healthRoutes(() => services.store.ping()))
  await app.register(
    discoveryRoutes({
      issuer: config.issuer,
      keys: services.keys,
      scopes: Object.keys(services.scopes.known),
      grantTypes: services.grants.types,
    }),
  )
  await app.register(tokenRoutes(services))
  await app.register(revocationEventRoutes(services))
  if (metrics && config.metricsPort === undefined) {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    )
  }
  await app.register(sessionRoutes(services.sessions))
  await app.register(userRoutes(services.accounts))
  await app.register(adminRoutes(services))
  await app.register(mfaRoutes(services))
  if (services.recovery.enabled) await app.register(recoveryRoutes(services.recovery))
  await app.register(adminClientRoutes(services))
  await app.register(loginPageRoutes)
  return app
}
