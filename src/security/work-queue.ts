// A bounded concurrency gate for CPU-heavy work (password hashing). At most `concurrency` jobs run,
// at most `maxQueued` wait; beyond that `run` fails at once with Overloaded, so a login flood costs
// a fixed amount of memory and the event loop keeps a core to itself. Memory-hard jobs (new argon2id
// hashes, 19 MiB each) have a tighter limit of their own, so that memory stays bounded as well as CPU.
// Callers put jobs whose admission must not reveal anything (password checks) in one class.
import { Overloaded } from '../errors.js'

export interface JobOptions {
  /** Counts against `memoryHardConcurrency` too. */
  memoryHard?: boolean
  /**
   * Runs ahead of every waiting job, and is never refused: for the next step of work that was already
   * admitted (a login's hash upgrade), which would otherwise wait behind the whole queue again.
   */
  next?: boolean
}

export interface WorkQueue {
  /** Runs `job` in turn; fails at once with Overloaded when `maxQueued` jobs already wait. */
  run<T>(job: () => Promise<T>, options?: JobOptions): Promise<T>
  /** Jobs running plus jobs waiting. */
  readonly depth: number
}

export interface WorkQueueOptions {
  concurrency: number
  maxQueued: number
  /** Memory-hard jobs allowed to run at once (default: `concurrency`). */
  memoryHardConcurrency?: number
}

interface Waiter {
  memoryHard: boolean
  start: () => void
}

export function createWorkQueue(options: WorkQueueOptions): WorkQueue {
  const { concurrency, maxQueued, memoryHardConcurrency = concurrency } = options
  const waiting: Waiter[] = []
  let running = 0
  let runningMemoryHard = 0

  const fits = (memoryHard: boolean): boolean =>
    running < concurrency && (!memoryHard || runningMemoryHard < memoryHardConcurrency)
  const claim = (memoryHard: boolean): void => {
    running++
    if (memoryHard) runningMemoryHard++
  }
  const release = (memoryHard: boolean): void => {
    running--
    if (memoryHard) runningMemoryHard--
    // The first waiter that fits: a memory-hard job waiting for its own limit does not hold back a
    // cheaper one behind it while a core is free.
    for (;;) {
      const index = waiting.findIndex((waiter) => fits(waiter.memoryHard))
      if (index === -1) return
      const [waiter] = waiting.splice(index, 1) as [Waiter]
      claim(waiter.memoryHard)
      waiter.start()
    }
  }

  return {
    get depth() {
      return running + waiting.length
    },
    async run<T>(
      job: () => Promise<T>,
      { memoryHard = false, next = false }: JobOptions = {},
    ): Promise<T> {
      // Waiters that fit are always started at once, so a job that fits now jumps no one.
      if (fits(memoryHard)) claim(memoryHard)
      else if (!next && waiting.length >= maxQueued) throw new Overloaded()
      else {
        // The slot is claimed for the waiter when it is started, so the counts stay correct.
        await new Promise<void>((start) =>
          next ? waiting.unshift({ memoryHard, start }) : waiting.push({ memoryHard, start }),
        )
      }
      try {
        return await job()
      } finally {
        release(memoryHard)
      }
    },
  }
}
