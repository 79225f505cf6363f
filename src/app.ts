// buildApp: wires config, store and the security primitives into a Fastify instance with every
// route registered. It never listens: server.ts does, and tests call it with `inject`.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
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
import { discoveryRoutes } from './http/routes/discovery.js'
import { healthRoutes } from './http/routes/health.js'
import { loginPageRoutes } from './http/routes/login-page.js'
import { sessionRoutes } from './http/routes/sessions.js'
import { tokenRoutes } from './http/routes/token.js'
import { userRoutes } from './http/routes/users.js'
import { createLogger } from './logger.js'
import type { Metrics } from './metrics.js'
import { createPasswordHasher, type PasswordHasher } from './security/passwords.js'
import { createTimingFloor, floorFor } from './security/timing-floor.js'
import { createTokenService } from './security/tokens.js'
import { createAccounts } from './services/accounts.js'
import { createCurrentUserResolver } from './services/current-user.js'
import { createLoginThrottle } from './services/login-throttle.js'
import { createPasswordLogin } from './services/password-login.js'
import { createScopeCatalog } from './services/scopes.js'
import { createAuditTrail } from './services/security-events.js'
import { createSessions } from './services/sessions.js'
import { createKeyManager } from './services/signing-keys.js'
import type { Store } from './store/index.js'
import { VERSION } from './version.js'

export interface BuildAppOptions {
  config: Config
  store: Store
  /** Defaults to a silent logger. */
  logger?: Logger
  /** Defaults to one built from the config; pass one to share it (e.g. with the CLI). */
  hasher?: PasswordHasher
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics, when METRICS=true (server.ts serves them on METRICS_PORT). */
    metrics: Metrics | undefined
  }
}

/** Signing keys rotated by another process are picked up this often (and at once on an unknown `kid`). */
const KEY_RELOAD_INTERVAL_MS = 60_000

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, store } = options
  const logger = options.logger ?? createLogger('silent')
  // Typed as Fastify's logger so the instance keeps Fastify's default generics.
  const loggerInstance: FastifyBaseLogger = logger
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

  const hasher =
    options.hasher ??
    createPasswordHasher({ concurrency: config.hashConcurrency, maxQueued: config.hashQueueMax })
  const floor = createTimingFloor(
    config.loginMinDurationMs === 'auto' ? 0 : config.loginMinDurationMs,
  )
  if (config.loginMinDurationMs === 'auto') {
    // Measured on this machine before the first request: the slowest hash a login may have to verify.
    app.addHook('onReady', async () => floor.setBase(floorFor(await hasher.measureSlowestVerify())))
  }

  const scopes = createScopeCatalog(config.extraScopes, config.defaultScopes)
  const accessTokenTtlSeconds = config.accessTokenExpireMinutes * 60
  const keys = await createKeyManager({
    algorithm: config.algorithm,
    secretKey: config.secretKey,
    signingKeyPem: config.signingKeyPem,
    store,
    accessTokenTtlSeconds,
  })
  const tokens = createTokenService({
    keys: keys.current(),
    issuer: config.issuer,
    audience: config.audience,
    ttlSeconds: accessTokenTtlSeconds,
  })
  const reloadKeys = async (): Promise<boolean> => {
    const changed = await keys.reload()
    if (changed) tokens.setKeys(keys.current())
    return changed
  }
  const keyReload = setInterval(
    () =>
      void reloadKeys().catch((error: unknown) =>
        logger.warn({ err: error }, 'could not reload signing keys'),
      ),
    KEY_RELOAD_INTERVAL_MS,
  )
  keyReload.unref()
  app.addHook('onClose', async () => clearInterval(keyReload))

  // Redis and prom-client are loaded only when configured: together they weigh 35 MB of memory.
  const redis = config.redisUrl
    ? (await import('./store/redis-throttle.js')).openRedisThrottleStore(config.redisUrl)
    : undefined
  if (redis) app.addHook('onClose', () => redis.close())
  const throttle = createLoginThrottle({
    store: redis ?? store,
    policy: config.throttle,
    secret: config.secretKey,
    failureMode: config.redisFailureMode,
    log: logger,
  })
  const login = createPasswordLogin({ store, hasher, floor, throttle, log: logger })
  const metrics = config.metrics
    ? (await import('./metrics.js')).createMetrics({
        hashQueueDepth: () => hasher.queueDepth,
        databasePool: store.poolStats?.bind(store),
      })
    : undefined
  app.decorate('metrics', metrics)
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

  const events = createAuditTrail(store, logger, metrics?.record)
  const sessions = createSessions({
    store,
    tokens,
    scopes,
    events,
    refreshTokenExpireDays: config.refreshTokenExpireDays,
    refreshTokenIdleDays: config.refreshTokenIdleDays,
  })
  const accounts = createAccounts({
    store,
    hasher,
    scopes,
    passwordMinLength: config.passwordMinLength,
  })

  registerErrorHandling(app)
  // Before every route, so that preflights and error answers carry the CORS headers too.
  await registerCors(app, config.corsOrigins)
  registerAuthentication(app, createCurrentUserResolver({ tokens, store, reloadKeys }))
  await registerDocs(app, VERSION, scopes.known)
  await app.register(healthRoutes(() => store.ping()))
  await app.register(
    discoveryRoutes({ issuer: config.issuer, keys, scopes: Object.keys(scopes.known) }),
  )
  await app.register(tokenRoutes({ login, sessions, events }))
  if (metrics && config.metricsPort === undefined) {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    )
  }
  await app.register(sessionRoutes(sessions, events))
  await app.register(userRoutes({ accounts, events, registrationOpen: config.registrationOpen }))
  await app.register(adminRoutes({ accounts, audit: store, events }))
  await app.register(loginPageRoutes)
  return app
}
