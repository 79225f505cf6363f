// A bounded concurrency gate for CPU-heavy work (password hashing). At most `concurrency` jobs run,
// at most `maxQueued` wait; beyond that `run` fails at once with Overloaded, so a login flood costs
// a fixed amount of memory and the event loop keeps a core to itself.
import { Overloaded } from '../errors.js'

export interface WorkQueue {
  run<T>(job: () => Promise<T>): Promise<T>
  /** Jobs running plus jobs waiting. */
  readonly depth: number
}

export function createWorkQueue(options: { concurrency: number; maxQueued: number }): WorkQueue {
  const { concurrency, maxQueued } = options
  const waiting: Array<() => void> = []
  let running = 0

  const release = (): void => {
    const next = waiting.shift()
    if (next) next()
    else running--
  }

  return {
    get depth() {
      return running + waiting.length
    },
    async run<T>(job: () => Promise<T>): Promise<T> {
      if (running < concurrency) running++
      else if (waiting.length >= maxQueued) throw new Overloaded()
      // A released slot is handed straight to the next waiter, so `running` stays correct.
      else await new Promise<void>((resolve) => waiting.push(resolve))
      try {
        return await job()
      } finally {
        release()
      }
    },
  }
}
