// Entry point of `gatehouse serve`: config -> store -> services -> app -> listen, and a graceful
// shutdown on SIGTERM/SIGINT (stop accepting, let in-flight requests finish within a bound, close
// the services and the store).
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { buildApp } from './app.js'
import { configWarnings, type Config } from './config.js'
import { createServices } from './compose.js'
import { createLogger } from './logger.js'
import { lowerHashingThreadPriority } from './security/hashing-threads.js'
import { describeMailSetup } from './services/mail/mail.js'
import { openStore } from './store/open.js'

/** In-flight requests get this long to finish after a shutdown signal. */
const SHUTDOWN_GRACE_MS = 10_000

export interface RunningServer {
  app: FastifyInstance
  url: string
  close(): Promise<void>
}

export async function startServer(config: Config): Promise<RunningServer> {
  const logger = createLogger(config.logLevel)
  for (const warning of configWarnings(config)) logger.warn(warning)
  const store = await openStore(config.databaseUrl, { poolSize: config.databasePoolSize })
  const services = await createServices({ config, store, logger }).catch(async (error: unknown) => {
    await store.close()
    throw error
  })
  const app = await buildApp(services)
  app.addHook('onClose', async () => {
    await services.close()
    await store.close()
  })
  // While shutting down, connections close as soon as their answer is sent instead of idling on
  // keep-alive, so that closing the server waits for in-flight requests only, not for idle clients.
  app.addHook('preClose', async () => {
    app.server.keepAliveTimeout = 1
    app.server.closeIdleConnections()
  })
  if (app.metrics && config.metricsPort !== undefined)
    await serveMetrics(app, app.metrics.registry, config.host, config.metricsPort)
  // The hasher's calibration (onReady) first, at the priority other processes have: at a lower one
  // it measured, and waited, as long as any busy process on the machine let it (a slow start).
  // Then the pool's threads exist and are idle.
  await app.ready()
  const priority = await lowerHashingThreadPriority({ niceness: config.hashThreadNiceness })
  if (priority.applied)
    logger.info(
      { threads: priority.threads.length, nice: priority.niceness },
      'hashing threads run at a lower priority than the event loop',
    )
  else logger.debug({ reason: priority.reason }, 'hashing thread priority left unchanged')
  const url = await app.listen({ host: config.host, port: config.port })
  logger.info(`Gatehouse is serving on ${url} (interactive docs at ${url}/docs)`)
  const mail = describeMailSetup(config.mail)
  logger[mail.level](mail.text)
  if ((await store.searchUsers({ limit: 1, offset: 0 })).users.length === 0) {
    logger.info('No users yet: add the first one with `npx gatehouse users add <username>`')
  }
  return { app, url, close: () => app.close() }
}

/** Metrics on their own port (METRICS_PORT), e.g. reachable only from the monitoring network. */
async function serveMetrics(
  app: FastifyInstance,
  registry: Registry,
  host: string,
  port: number,
): Promise<void> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}')
      return
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    )
  })
  server.listen(port, host)
  await once(server, 'listening')
  app.addHook('onClose', async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  app.log.info(`metrics on http://${host}:${port}/metrics`)
}

export interface SignalOptions {
  /**
   * Exit at once on a second signal (default). Cluster workers turn it off: a terminal's Ctrl+C reaches
   * them as well as the signal their primary forwards, and the primary decides when to stop waiting.
   */
  exitOnSecondSignal?: boolean
}

/** Close on the first SIGTERM/SIGINT; exit at once on a second one or when the grace period ends. */
export function closeOnSignals(server: RunningServer, options: SignalOptions = {}): void {
  const exitOnSecondSignal = options.exitOnSecondSignal ?? true
  let closing = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      if (exitOnSecondSignal) process.exit(1)
      return
    }
    closing = true
    server.app.log.info({ signal }, 'shutting down')
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref()
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'error while shutting down')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
