// Multi-process serving (WORKERS > 1): the primary forks workers that share the listening port through
// node:cluster, and serves nothing itself. It restarts a worker that dies unexpectedly (with a backoff),
// forwards SIGTERM/SIGINT to the workers and exits once they have all exited. Each worker is startServer.
import cluster, { type Worker } from 'node:cluster'
import type { Config } from './config.js'
import { createLogger } from './logger.js'
import { closeOnSignals, startServer } from './server.js'

/** Delays before restarting a crashed worker, one step longer for each crash in a row. */
const RESTART_BACKOFF_MS = [100, 500, 1_000, 2_000, 5_000] as const
/** A worker that ran this long before it died resets the backoff: it was not crash-looping. */
const STABLE_AFTER_MS = 30_000

/**
 * Serve with `config.workers` processes. In the primary, resolves to the exit code once every worker has
 * exited after a shutdown signal. In a worker, starts the server and resolves to 0 while it listens.
 */
export async function serveWithWorkers(config: Config): Promise<number> {
  if (cluster.isWorker) {
    try {
      closeOnSignals(await startServer(config), { exitOnSecondSignal: false })
    } catch (error) {
      // The channel to the primary would keep a worker that failed to start alive; the caller reports the error.
      cluster.worker?.disconnect()
      throw error
    }
    return 0
  }
  return superviseWorkers(config)
}

function superviseWorkers(config: Config): Promise<number> {
  const log = createLogger(config.logLevel)
  // Workers read the same configuration again. The key is handed over because it may have been
  // generated just now: every worker must sign and verify with the one the primary resolved.
  // HASH_CONCURRENCY is the machine's budget of hashing threads, shared out among the workers.
  const workerEnv = {
    SECRET_KEY: config.secretKey,
    ...(config.sealingKey ? { SEALING_KEY: config.sealingKey } : {}),
    HASH_CONCURRENCY: String(Math.max(1, Math.floor(config.hashConcurrency / config.workers))),
  }
  const live = new Set<Worker>()
  const pendingRestarts = new Set<NodeJS.Timeout>()
  let stopping: NodeJS.Signals | undefined
  let failed = false
  let crashesInARow = 0

  return new Promise<number>((resolve) => {
    const finishIfDone = (): void => {
      if (stopping === undefined || live.size > 0) return
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      log.info({ exitCode: failed ? 1 : 0 }, 'all workers have exited')
      resolve(failed ? 1 : 0)
    }

    const stop = (signal: NodeJS.Signals): void => {
      stopping = signal
      for (const restart of pendingRestarts) clearTimeout(restart)
      for (const worker of live) worker.process.kill(signal)
      finishIfDone()
    }

    const fork = (): void => {
      if (stopping !== undefined) return
      const worker = cluster.fork(workerEnv)
      const forkedAt = Date.now()
      let listening = false
      live.add(worker)
      worker.on('listening', () => {
        listening = true
      })
      worker.on('exit', (code, signal) => {
        live.delete(worker)
        const pid = worker.process.pid
        if (stopping !== undefined) {
          // A worker killed by the forwarded signal had not installed its handlers yet: still a clean stop.
          if (code !== 0 && signal !== stopping) failed = true
          finishIfDone()
          return
        }
        if (!listening) {
          // Start-up failures (port taken, unreadable database) repeat identically: stop instead of looping.
          log.error({ worker: pid, code, signal }, 'a worker failed to start; stopping')
          failed = true
          stop('SIGTERM')
          return
        }
        if (Date.now() - forkedAt > STABLE_AFTER_MS) crashesInARow = 0
        const delayMs =
          RESTART_BACKOFF_MS[Math.min(crashesInARow, RESTART_BACKOFF_MS.length - 1)] ??
          RESTART_BACKOFF_MS[0]
        crashesInARow++
        log.warn(
          { worker: pid, code, signal, delayMs },
          'worker exited unexpectedly; restarting it',
        )
        const restart = setTimeout(() => {
          pendingRestarts.delete(restart)
          fork()
        }, delayMs)
        pendingRestarts.add(restart)
      })
    }

    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping !== undefined) {
        // A second signal means do not wait for in-flight requests, as in a single process.
        for (const worker of live) worker.process.kill('SIGKILL')
        process.exit(1)
      }
      log.info({ signal, workers: live.size }, 'shutting down the workers')
      stop(signal)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)

    log.info({ workers: config.workers }, 'starting the workers')
    for (let index = 0; index < config.workers; index++) fork()
  })
}
