// The one password pipeline: every endpoint that checks a password (POST /token, the password
// change) goes through throttle reservation, the hashing queue, verification and the timing floor.
// Unknown user and wrong password fail the same way, with the same work (a dummy verification) and
// the same duration; a correct password of a disabled account is told apart only after it was proven.
// Only failures wait for the floor: a success proves the caller knew the password, so it hides nothing.
// Hashes below the current policy are upgraded on the way out, as passlib's `deprecated="auto"` does.
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { InactiveUser, InvalidCredentials, Overloaded } from '../../errors.js'
import { isBcrypt, passwordForms, type PasswordHasher } from '../../security/passwords.js'
import { floorFor, type TimingFloor } from '../../security/timing-floor.js'
import type { UserRecord, UserStore } from '../../store/contract.js'
import type { LoginThrottle } from '../throttle/login-throttle.js'

export interface PasswordLoginDeps {
  store: UserStore
  hasher: PasswordHasher
  floor: TimingFloor
  throttle: LoginThrottle
  log: Logger
  /** With LOGIN_MIN_DURATION_MS=auto: told of each stored hash about to be verified. */
  sizing?: Pick<FloorSizing, 'meet'>
}

export interface VerifiedPassword {
  /** The user as read before the check; `user.hashedPassword` is `verifiedHash`. */
  user: UserRecord
  /**
   * The stored hash the password was proven against, or the upgraded hash that replaced it. A caller
   * that creates a session or changes the password must do so only while this is still the user's hash.
   */
  verifiedHash: string
}

/**
 * Checks a username (as typed) and password sent from client address `ip`; throws Throttled,
 * Overloaded, ThrottleUnavailable, InvalidCredentials or InactiveUser.
 */
export type PasswordCheck = (
  username: string,
  password: string,
  ip: string,
) => Promise<VerifiedPassword>

export function createPasswordCheck({
  store,
  hasher,
  floor,
  throttle,
  log,
  sizing,
}: PasswordLoginDeps): PasswordCheck {
  // Usernames are stored NFKC-normalized; rows written before that (or by another app) keep their text.
  const findUser = async (username: string): Promise<UserRecord | undefined> => {
    const normalized = username.normalize('NFKC')
    const user = await store.findUserByUsername(normalized)
    if (user || normalized === username) return user
    return store.findUserByUsername(username)
  }

  const check = async (
    username: string,
    password: string,
    verified: (workMs: number) => void,
  ): Promise<VerifiedPassword> => {
    const user = await findUser(username)
    if (!user) {
      // Same work as a real check, so an unknown username costs and looks like a wrong password.
      await hasher.verifyDummy(password)
      throw new InvalidCredentials()
    }
    // Before the work, so that this very answer already waits for a floor sized for its hash.
    sizing?.meet(user.hashedPassword)
    const { matches, upgrade, workMs } = await hasher.verify(password, user.hashedPassword)
    verified(workMs)
    if (!matches) throw new InvalidCredentials()
    if (user.disabled) throw new InactiveUser()
    const verifiedHash = upgrade ? await upgradeHash(user, password) : user.hashedPassword
    return { user: { ...user, hashedPassword: verifiedHash }, verifiedHash }
  }

  /** The hash that is the user's now: the upgraded one, or the one verified if the upgrade did not happen. */
  const upgradeHash = async (user: UserRecord, password: string): Promise<string> => {
    try {
      const upgraded = await hasher.rehash(password)
      if (await store.replacePasswordHash(user.id, user.hashedPassword, upgraded)) {
        log.info({ username: user.username }, 'password hash upgraded to the current policy')
        return upgraded
      }
    } catch (error) {
      // The check itself succeeded; the upgrade is retried on the next one.
      log.warn({ username: user.username, err: error }, 'could not upgrade the password hash')
    }
    return user.hashedPassword
  }

  return async (username, password, ip) => {
    // Throttled attempts are refused at once, before anything about the user is read.
    const reservation = await throttle.reserve(username, ip)
    const started = performance.now()
    // A password whose NFKC form differs may need two verifications, user or not: two floors.
    const verifications = passwordForms(password).length
    let workMs: number | undefined
    try {
      const result = await check(username, password, (ms) => (workMs = ms))
      await reservation.succeeded()
      // Not padded: the floor hides which failure this is (unknown user, wrong password, which hash
      // kind), and a caller who knew the password learns nothing from a fast success.
      return result
    } catch (error) {
      if (error instanceof InactiveUser) await reservation.succeeded()
      // Shedding load is immediate and says nothing about the user; every other failure waits for the floor.
      if (error instanceof Overloaded) await reservation.cancelled()
      else await floor.pad(started, verifications)
      throw error
    } finally {
      // Only after padding: a real user's failure must wait for the same floor as an unknown user's.
      if (workMs !== undefined) floor.observe(workMs)
    }
  }
}

/** How often the stored hash kinds are read again (other instances and the CLI import and upgrade them). */
export const HASH_KINDS_RECHECK_MS = 10_000

export interface FloorSizing {
  /**
   * Measures one bcrypt-12 and one argon2id verification on this machine and sizes the floor for the
   * slowest kind stored: argon2id alone unless a bcrypt hash is left. Re-reads the kinds periodically.
   */
  start(): Promise<void>
  /** A stored hash about to be verified: a bcrypt one raises the floor at once if it was argon2id-sized. */
  meet(storedHash: string): void
  /** Reads the stored kinds now and sizes the floor for them. */
  recheck(): Promise<void>
  /** Which kinds the floor is sized for, once started. */
  readonly sizedFor: 'bcrypt' | 'argon2id' | undefined
  stop(): void
}

/**
 * The timing floor sized from the hash kinds actually stored. A database of argon2id hashes answers in
 * about one argon2id verification (plus the margin), instead of paying for bcrypt-12 on every login;
 * a migrated one keeps the bcrypt-sized floor until its last bcrypt hash has been upgraded or removed.
 */
export function createFloorSizing(deps: {
  floor: TimingFloor
  hasher: Pick<PasswordHasher, 'measureVerifyTimes'>
  store: Pick<UserStore, 'hasBcryptHashes'>
  log: Pick<Logger, 'info' | 'warn'>
  intervalMs?: number
}): FloorSizing {
  const { floor, hasher, store, log } = deps
  let times: { bcryptMs: number; argon2idMs: number } | undefined
  let sizedFor: 'bcrypt' | 'argon2id' | undefined
  let timer: NodeJS.Timeout | undefined

  const size = (kind: 'bcrypt' | 'argon2id'): void => {
    if (!times || kind === sizedFor) return
    const changed = sizedFor !== undefined
    sizedFor = kind
    floor.setBase(
      kind === 'bcrypt'
        ? floorFor(Math.max(times.bcryptMs, times.argon2idMs))
        : floorFor(times.argon2idMs, true),
    )
    log.info(
      { floorMs: floor.floorMs, sizedFor: kind, verifyMs: times },
      changed
        ? 'login timing floor resized for the hash kinds stored'
        : 'login timing floor sized for the hash kinds stored',
    )
  }
  const recheck = async (): Promise<void> => {
    size((await store.hasBcryptHashes()) ? 'bcrypt' : 'argon2id')
  }

  return {
    async start() {
      times ??= await hasher.measureVerifyTimes()
      await recheck()
      if (timer) return
      timer = setInterval(() => {
        recheck().catch((error: unknown) =>
          log.warn({ err: error }, 'could not read the stored hash kinds'),
        )
      }, deps.intervalMs ?? HASH_KINDS_RECHECK_MS)
      timer.unref()
    },
    meet(storedHash) {
      if (sizedFor === 'argon2id' && isBcrypt(storedHash)) size('bcrypt')
    },
    recheck,
    get sizedFor() {
      return sizedFor
    },
    stop() {
      clearInterval(timer)
      timer = undefined
    },
  }
}
