// Scheduling of the threads password hashes run on: libuv's thread pool (the hashing libraries are
// N-API async work). On a machine with few cores they compete with the event loop for CPU, and every
// request waits when they win; a higher nice value for them (Linux sets it per thread) lets the event
// loop run first whenever it has work, while idle CPU still goes to hashing.
import { open } from 'node:fs/promises'
import { getPriority, setPriority } from 'node:os'

/** What lowerHashingThreadPriority did: the threads it reniced, or why it did nothing. */
export type ThreadPriorityOutcome =
  { applied: true; threads: number[]; niceness: number } | { applied: false; reason: string }

export interface ThreadPriorityOptions {
  /** How much nicer than the event loop's thread the pool's threads become (0 to 19; 0: unchanged). */
  niceness: number
  /** Defaults to process.platform; per-thread nice values exist on Linux only. */
  platform?: NodeJS.Platform
  /** Threads in the pool; defaults to UV_THREADPOOL_SIZE as libuv reads it (4 when unset). */
  poolSize?: number
}

/** Rounds of probes before giving up on threads that stay busy (each round takes a few ms). */
const MAX_ROUNDS = 50

/**
 * Lowers the priority of every thread of libuv's pool to the event loop's nice value plus `niceness`.
 * Call it once, when the pool is idle (after the hasher's calibration): its threads live as long as
 * the process. Unprivileged processes may raise a thread's nice value, never lower it back.
 */
export async function lowerHashingThreadPriority(
  options: ThreadPriorityOptions,
): Promise<ThreadPriorityOutcome> {
  const { niceness } = options
  if (niceness === 0) return { applied: false, reason: 'HASH_THREAD_NICENESS is 0' }
  if ((options.platform ?? process.platform) !== 'linux')
    return { applied: false, reason: 'per-thread priorities are set on Linux only' }
  try {
    const threads = await findPoolThreads(options.poolSize ?? libuvPoolSize())
    const target = Math.min(19, getPriority(process.pid) + niceness)
    for (const tid of threads) setPriority(tid, Math.max(target, getPriority(tid)))
    return { applied: true, threads, niceness: target }
  } catch (error) {
    // No /proc (an unusual container), or a policy that forbids it: a slower hot path, not a failure.
    return { applied: false, reason: error instanceof Error ? error.message : String(error) }
  }
}

/** The pool's size as libuv reads UV_THREADPOOL_SIZE at its first use (atoi; 0 means 1; at most 1024). */
export function libuvPoolSize(value = process.env.UV_THREADPOOL_SIZE): number {
  if (value === undefined) return 4
  const size = Number.parseInt(value, 10) || 0
  // libuv holds the count unsigned: a negative one wraps past the maximum.
  return size === 0 ? 1 : size < 0 ? 1024 : Math.min(1024, size)
}

/**
 * The ids of the pool's threads. On Node 20 they are named like every other thread ("node"), so they
 * are asked: an asynchronous open of /proc/thread-self runs on a pool thread and opens that thread's
 * own entry. Many opens at once reach every idle thread, usually in the first round.
 */
async function findPoolThreads(poolSize: number): Promise<number[]> {
  const found = new Set<number>()
  for (let round = 0; round < MAX_ROUNDS && found.size < poolSize; round++) {
    const ids = await Promise.all(Array.from({ length: poolSize * 4 }, openedByThread))
    for (const id of ids) found.add(id)
  }
  return [...found].sort((a, b) => a - b)
}

async function openedByThread(): Promise<number> {
  const handle = await open('/proc/thread-self/stat')
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(32) })
    // The stat line starts with the thread's id.
    return Number.parseInt(buffer.toString('latin1', 0, bytesRead), 10)
  } finally {
    await handle.close()
  }
}
