// Entry point of `gatehouse serve`: config -> store -> buildApp -> listen, and a graceful shutdown
// on SIGTERM/SIGINT (stop accepting, let in-flight requests finish within a bound, close the store).
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import type { Config } from './config.js'
import { createLogger } from './logger.js'
import { openStore } from './store/index.js'

/** In-flight requests get this long to finish after a shutdown signal. */
const SHUTDOWN_GRACE_MS = 10_000

export interface RunningServer {
  app: FastifyInstance
  url: string
  close(): Promise<void>
}

export async function startServer(config: Config): Promise<RunningServer> {
  const logger = createLogger(config.logLevel)
  const store = await openStore(config.databaseUrl, { poolSize: config.databasePoolSize })
  const app = await buildApp({ config, store, logger })
  app.addHook('onClose', async () => store.close())
  const url = await app.listen({ host: config.host, port: config.port })
  logger.info(`Gatehouse is serving on ${url} (interactive docs at ${url}/docs)`)
  return { app, url, close: () => app.close() }
}

/** Close on the first SIGTERM/SIGINT; exit at once on a second one or when the grace period ends. */
export function closeOnSignals(server: RunningServer): void {
  let closing = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1)
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
