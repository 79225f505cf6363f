// buildApp: wires config, store and the security primitives into a Fastify instance with every
// route registered. It never listens: server.ts does, and tests call it with `inject`.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { registerAuthentication } from './http/auth.js'
import { registerDocs } from './http/docs.js'
import { registerErrorHandling } from './http/error-handler.js'
import { healthRoutes } from './http/routes/health.js'
import { tokenRoutes } from './http/routes/token.js'
import { userRoutes } from './http/routes/users.js'
import { createLogger } from './logger.js'
import { createPasswordHasher, type PasswordHasher } from './security/passwords.js'
import { createTimingFloor, floorFor } from './security/timing-floor.js'
import { createTokenService } from './security/tokens.js'
import { createCurrentUserResolver } from './services/current-user.js'
import { createPasswordLogin } from './services/password-login.js'
import type { UserStore } from './store/index.js'
import { VERSION } from './version.js'

export interface BuildAppOptions {
  config: Config
  store: UserStore
  /** Defaults to a silent logger. */
  logger?: Logger
  /** Defaults to one built from the config; pass one to share it (e.g. with the CLI). */
  hasher?: PasswordHasher
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, store } = options
  const logger = options.logger ?? createLogger('silent')
  // Typed as Fastify's logger so the instance keeps Fastify's default generics.
  const loggerInstance: FastifyBaseLogger = logger
  const app = Fastify({
    loggerInstance,
    bodyLimit: config.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true },
  })

  const hasher = options.hasher ?? createPasswordHasher({ concurrency: config.hashConcurrency, maxQueued: config.hashQueueMax })
  const floor = createTimingFloor(config.loginMinDurationMs === 'auto' ? 0 : config.loginMinDurationMs)
  if (config.loginMinDurationMs === 'auto') {
    // Measured on this machine before the first request: the slowest hash a login may have to verify.
    app.addHook('onReady', async () => floor.setBase(floorFor(await hasher.measureSlowestVerify())))
  }
  const tokens = createTokenService({ secret: config.secretKey, algorithm: config.algorithm, ttlSeconds: config.accessTokenExpireMinutes * 60 })
  const login = createPasswordLogin({ store, hasher, floor, log: logger })

  registerErrorHandling(app)
  registerAuthentication(app, createCurrentUserResolver({ tokens, store }))
  await registerDocs(app, VERSION)
  await app.register(healthRoutes)
  await app.register(tokenRoutes({ login, tokens }))
  await app.register(userRoutes)
  return app
}
