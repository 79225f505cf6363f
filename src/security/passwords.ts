// Password hashing: argon2id over the NFKC form of every new password, verification of argon2 and
// bcrypt hashes (the `$2b$12$...` hashes a FastAPI/passlib app wrote), and the policy check that drives
// rehash-on-login. All hashing runs on libuv's thread pool through a bounded work queue, never on the
// event loop.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import * as argon2 from '@node-rs/argon2'
import * as bcrypt from '@node-rs/bcrypt'
import { createWorkQueue, type JobOptions } from './work-queue.js'

export interface Argon2Policy {
  /** KiB of memory per hash. */
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** OWASP Password Storage Cheat Sheet's minimum for argon2id. */
export const OWASP_ARGON2ID: Argon2Policy = { memoryCost: 19_456, timeCost: 2, parallelism: 1 }

/** The cost the FastAPI tutorial (passlib's default) used; legacy hashes are assumed to be this slow. */
export const LEGACY_BCRYPT_COST = 12

// `Algorithm` is a const enum in the typings (empty at run time); 2 is Argon2id.
const ARGON2ID = 2

export interface Verification {
  /** True only for a well-formed hash of this password; false for any mismatch or unreadable hash. */
  matches: boolean
  /**
   * The password matched, but the hash should be replaced by `rehash(password)`: it is below the
   * policy (bcrypt included), or it was made from the password as typed rather than its NFKC form.
   */
  upgrade: boolean
  /**
   * Time per verification done, without the wait for a free slot: the part that depends on the stored
   * hash. (A password whose NFKC form differs from it may take two verifications, see passwordForms.)
   */
  workMs: number
}

export interface PasswordHasher {
  /** A new hash, of the password's NFKC form. */
  hash(password: string): Promise<string>
  /** A new hash for a login whose verification just passed: runs before waiting jobs, never refused. */
  rehash(password: string): Promise<string>
  /** Tries each of `passwordForms(password)` in turn, in one hashing slot, until one matches. */
  verify(password: string, storedHash: string): Promise<Verification>
  /**
   * Spend the same work as `verify` of the same password against a current-policy hash that it does
   * not match (every form tried), for users that do not exist.
   */
  verifyDummy(password: string): Promise<void>
  /** True for bcrypt, argon2i/d and argon2id below the policy: rehash after the next successful login. */
  needsRehash(storedHash: string): boolean
  /** Milliseconds of the slowest verification the hasher may be asked for (legacy bcrypt or current argon2id). */
  measureSlowestVerify(): Promise<number>
  /** Milliseconds of one legacy bcrypt-12 and one current argon2id verification, measured here and now. */
  measureVerifyTimes(): Promise<{ bcryptMs: number; argon2idMs: number }>
  /** Hashing jobs running plus waiting. */
  readonly queueDepth: number
}

export interface PasswordHasherOptions {
  policy?: Argon2Policy
  /** Hashing jobs allowed to run at once (about one per core). */
  concurrency: number
  /** Jobs allowed to wait; more are refused with Overloaded. */
  maxQueued: number
  /** Spans for the wait for a hashing slot and for the work in it (tracing on); absent, none. */
  startSpan?: StartSpan
}

/**
 * Starts a span, a child of the caller's current one, and returns the function that ends it (failed
 * when given the error). The wiring passes OpenTelemetry's; security/ knows no tracing library.
 */
export type StartSpan = (name: string) => (failure?: unknown) => void

/**
 * New argon2id hashes allowed at once: half the hashing slots, at least one. Each holds 19 MiB while
 * it runs; two at once on 2 cores was a quarter of the process's peak memory. Verifications are not
 * held to it (see `verify`), so this bounds the memory of new hashes only.
 */
const memoryHardSlots = (concurrency: number): number => Math.max(1, Math.floor(concurrency / 2))

export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  const policy = options.policy ?? OWASP_ARGON2ID
  const { concurrency, maxQueued, startSpan } = options
  const queue = createWorkQueue({
    concurrency,
    maxQueued,
    memoryHardConcurrency: memoryHardSlots(concurrency),
  })
  // A job in the queue, traced as two spans when tracing is on: the wait for a slot, then `name`.
  const run = <T>(name: string, job: () => Promise<T>, jobOptions?: JobOptions): Promise<T> => {
    if (!startSpan) return queue.run(job, jobOptions)
    const endWait = startSpan('password.hashing_queue')
    let started = false
    const traced = async (): Promise<T> => {
      started = true
      endWait()
      const endWork = startSpan(name)
      try {
        const result = await job()
        endWork()
        return result
      } catch (error) {
        endWork(error)
        throw error
      }
    }
    return queue.run(traced, jobOptions).catch((error: unknown) => {
      if (!started) endWait(error)
      throw error
    })
  }
  const argon2Options = { algorithm: ARGON2ID, ...policy }
  let dummyHash: Promise<string> | undefined

  const hash = (password: string): Promise<string> =>
    run('password.hash', () => argon2.hash(password.normalize('NFKC'), argon2Options), {
      memoryHard: true,
    })

  const check = (password: string, storedHash: string): Promise<boolean> => {
    // bcrypt reads only the first 72 bytes, as passlib did when it made the hash: a longer password
    // matches by its prefix, and the hash is upgraded (bcrypt always needs a rehash) over the whole.
    if (isBcrypt(storedHash)) return bcrypt.verify(password, storedHash).catch(() => false)
    if (storedHash.startsWith('$argon2'))
      return argon2.verify(storedHash, password).catch(() => false)
    return Promise.resolve(false)
  }

  // One admission class for every verification, whatever the hash (bcrypt, argon2id, the dummy's):
  // whether a check is admitted and when it starts must not tell a missing user or a legacy hash apart.
  const verify = (password: string, storedHash: string): Promise<Verification> =>
    run('password.verify', async () => {
      const started = performance.now()
      const forms = passwordForms(password)
      let tried = 0
      for (const form of forms) {
        tried++
        if (await check(form, storedHash)) {
          const elapsed = performance.now() - started
          const upgrade = form !== forms[0] || needsRehash(storedHash, policy)
          return { matches: true, upgrade, workMs: elapsed / tried }
        }
      }
      return { matches: false, upgrade: false, workMs: (performance.now() - started) / tried }
    })

  const getDummyHash = (): Promise<string> => {
    // A random password nobody knows, hashed once with the current policy.
    dummyHash ??= hash(randomBytes(32).toString('base64url'))
    return dummyHash
  }

  const timeVerify = async (storedHash: string): Promise<number> =>
    (await verify('calibration-password', storedHash)).workMs

  const measureVerifyTimes = async (): Promise<{ bcryptMs: number; argon2idMs: number }> => {
    const legacy = await queue.run(() =>
      bcrypt.hash(randomBytes(16).toString('base64url'), LEGACY_BCRYPT_COST),
    )
    const current = await getDummyHash()
    // Not measured: the first verification of a process pays for warming up (memory, code paths).
    await timeVerify(current)
    const bcryptMs: number[] = []
    const argon2idMs: number[] = []
    for (let round = 0; round < 2; round++) bcryptMs.push(await timeVerify(legacy))
    // argon2id is cheap to measure: the median of five, so that one slow round (a busy machine at
    // start) does not size an argon2id-only floor for good; an overrun later raises it anyway.
    for (let round = 0; round < 5; round++) argon2idMs.push(await timeVerify(current))
    argon2idMs.sort((a, b) => a - b)
    return { bcryptMs: Math.max(...bcryptMs), argon2idMs: argon2idMs[2]! }
  }

  return {
    hash,
    rehash: (password) =>
      run('password.hash', () => argon2.hash(password.normalize('NFKC'), argon2Options), {
        memoryHard: true,
        next: true,
      }),
    verify,
    needsRehash: (storedHash) => needsRehash(storedHash, policy),
    async verifyDummy(password) {
      await verify(password, await getDummyHash())
    },
    async measureSlowestVerify() {
      const { bcryptMs, argon2idMs } = await measureVerifyTimes()
      return Math.max(bcryptMs, argon2idMs)
    },
    measureVerifyTimes,
    get queueDepth() {
      return queue.depth
    },
  }
}

/**
 * The forms of a typed password to verify, in order: its NFKC form (NIST SP 800-63B), whatever the
 * keyboard composed, and, when that differs, the password as typed, for hashes made before
 * passwords were normalized. Depends on the input only, so unknown users cost the same.
 */
export function passwordForms(password: string): [string] | [string, string] {
  const normalized = password.normalize('NFKC')
  return normalized === password ? [normalized] : [normalized, password]
}

/** A bcrypt hash (passlib's `$2b$`, and `$2a$`, `$2x$`, `$2y$`): the slow kind a migrated database holds. */
export function isBcrypt(storedHash: string): boolean {
  return /^\$2[abxy]\$\d\d\$/.test(storedHash)
}

export function needsRehash(storedHash: string, policy: Argon2Policy): boolean {
  if (!storedHash.startsWith('$argon2id$')) return true
  try {
    const used = argon2.parseOptions(storedHash)
    return (
      used.memoryCost < policy.memoryCost ||
      used.timeCost < policy.timeCost ||
      used.parallelism < policy.parallelism
    )
  } catch {
    return true
  }
}
