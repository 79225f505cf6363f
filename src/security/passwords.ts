// Password hashing: argon2id for every new hash, verification of argon2 and bcrypt hashes (the
// `$2b$12$...` hashes a FastAPI/passlib app wrote), and the policy check that drives rehash-on-login.
// All hashing runs on libuv's thread pool through a bounded work queue, never on the event loop.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import * as argon2 from '@node-rs/argon2'
import * as bcrypt from '@node-rs/bcrypt'
import { createWorkQueue } from './work-queue.js'

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

/** bcrypt only reads the first 72 bytes; a longer password must never match a bcrypt hash. */
const BCRYPT_MAX_BYTES = 72

// `Algorithm` is a const enum in the typings (empty at run time); 2 is Argon2id.
const ARGON2ID = 2

export interface Verification {
  /** True only for a well-formed hash of this password; false for any mismatch or unreadable hash. */
  matches: boolean
  /** Time spent hashing, without the wait for a free slot: the part that depends on the stored hash. */
  workMs: number
}

export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** A new hash for a login whose verification just passed: runs before waiting jobs, never refused. */
  rehash(password: string): Promise<string>
  verify(password: string, storedHash: string): Promise<Verification>
  /** Spend the same work as verifying against a real current-policy hash, for users that do not exist. */
  verifyDummy(password: string): Promise<void>
  /** True for bcrypt, argon2i/d and argon2id below the policy: rehash after the next successful login. */
  needsRehash(storedHash: string): boolean
  /** Milliseconds of the slowest verification the hasher may be asked for (legacy bcrypt or current argon2id). */
  measureSlowestVerify(): Promise<number>
  /** Hashing jobs running plus waiting. */
  readonly queueDepth: number
}

export interface PasswordHasherOptions {
  policy?: Argon2Policy
  /** Hashing jobs allowed to run at once (about one per core). */
  concurrency: number
  /** Jobs allowed to wait; more are refused with Overloaded. */
  maxQueued: number
}

/**
 * argon2id jobs allowed at once: half the hashing slots, at least one. Each holds 19 MiB while it runs,
 * and at about 20 ms (against bcrypt-12's 400 ms) half the slots still verify far more of them than
 * the login timing floor lets through; two at once on 2 cores was a quarter of the process's peak memory.
 */
const memoryHardSlots = (concurrency: number): number => Math.max(1, Math.floor(concurrency / 2))

export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  const policy = options.policy ?? OWASP_ARGON2ID
  const { concurrency, maxQueued } = options
  const queue = createWorkQueue({
    concurrency,
    maxQueued,
    memoryHardConcurrency: memoryHardSlots(concurrency),
  })
  const argon2Options = { algorithm: ARGON2ID, ...policy }
  let dummyHash: Promise<string> | undefined

  const hash = (password: string): Promise<string> =>
    queue.run(() => argon2.hash(password, argon2Options), { memoryHard: true })

  const check = (password: string, storedHash: string): Promise<boolean> => {
    if (isBcrypt(storedHash)) {
      // bcrypt would accept any password sharing the first 72 bytes: do the work (same timing), refuse the match.
      return bcrypt.verify(password, storedHash).then(
        (matches) => matches && Buffer.byteLength(password) <= BCRYPT_MAX_BYTES,
        () => false,
      )
    }
    if (storedHash.startsWith('$argon2'))
      return argon2.verify(storedHash, password).catch(() => false)
    return Promise.resolve(false)
  }

  const verify = (password: string, storedHash: string): Promise<Verification> =>
    queue.run(
      async () => {
        const started = performance.now()
        const matches = await check(password, storedHash)
        return { matches, workMs: performance.now() - started }
      },
      { memoryHard: !isBcrypt(storedHash) },
    )

  const getDummyHash = (): Promise<string> => {
    // A random password nobody knows, hashed once with the current policy.
    dummyHash ??= hash(randomBytes(32).toString('base64url'))
    return dummyHash
  }

  const timeVerify = async (storedHash: string): Promise<number> =>
    (await verify('calibration-password', storedHash)).workMs

  return {
    hash,
    rehash: (password) =>
      queue.run(() => argon2.hash(password, argon2Options), { memoryHard: true, next: true }),
    verify,
    needsRehash: (storedHash) => needsRehash(storedHash, policy),
    async verifyDummy(password) {
      await verify(password, await getDummyHash())
    },
    async measureSlowestVerify() {
      const legacy = await queue.run(() =>
        bcrypt.hash(randomBytes(16).toString('base64url'), LEGACY_BCRYPT_COST),
      )
      const current = await getDummyHash()
      const samples: number[] = []
      for (let round = 0; round < 2; round++)
        samples.push(await timeVerify(legacy), await timeVerify(current))
      return Math.max(...samples)
    },
    get queueDepth() {
      return queue.depth
    },
  }
}

function isBcrypt(storedHash: string): boolean {
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
