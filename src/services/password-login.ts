// The password check behind POST /token. Unknown user and wrong password fail the same way, with
// the same work (a dummy verification) and the same duration (the timing floor); a correct password
// of a disabled account is told apart only after it was proven. Hashes below the current policy are
// upgraded on the way out, as passlib's `deprecated="auto"` does.
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { InactiveUser, InvalidCredentials, Overloaded } from '../errors.js'
import type { PasswordHasher } from '../security/passwords.js'
import type { TimingFloor } from '../security/timing-floor.js'
import type { UserRecord, UserStore } from '../store/index.js'
import type { LoginThrottle } from './login-throttle.js'

export interface PasswordLoginDeps {
  store: UserStore
  hasher: PasswordHasher
  floor: TimingFloor
  throttle: LoginThrottle
  log: Logger
}

/** Checks a username and password sent from client address `ip`. */
export type PasswordLogin = (username: string, password: string, ip: string) => Promise<UserRecord>

export function createPasswordLogin({
  store,
  hasher,
  floor,
  throttle,
  log,
}: PasswordLoginDeps): PasswordLogin {
  const check = async (
    username: string,
    password: string,
    verified: (workMs: number) => void,
  ): Promise<UserRecord> => {
    const user = await store.findUserByUsername(username)
    if (!user) {
      // Same work as a real check, so an unknown username costs and looks like a wrong password.
      await hasher.verifyDummy(password)
      throw new InvalidCredentials()
    }
    const { matches, workMs } = await hasher.verify(password, user.hashedPassword)
    verified(workMs)
    if (!matches) throw new InvalidCredentials()
    if (user.disabled) throw new InactiveUser()
    if (hasher.needsRehash(user.hashedPassword)) await upgradeHash(user, password)
    return user
  }

  const upgradeHash = async (user: UserRecord, password: string): Promise<void> => {
    try {
      const upgraded = await hasher.rehash(password)
      if (await store.replacePasswordHash(user.id, user.hashedPassword, upgraded)) {
        log.info({ username: user.username }, 'password hash upgraded to the current policy')
      }
    } catch (error) {
      // The login itself succeeded; the upgrade is retried on the next one.
      log.warn({ username: user.username, err: error }, 'could not upgrade the password hash')
    }
  }

  return async (username, password, ip) => {
    // Throttled attempts are refused at once, before anything about the user is read.
    const reservation = await throttle.reserve(username, ip)
    const started = performance.now()
    let workMs: number | undefined
    try {
      const user = await check(username, password, (ms) => (workMs = ms))
      await reservation.succeeded()
      await floor.pad(started)
      return user
    } catch (error) {
      if (error instanceof InactiveUser) await reservation.succeeded()
      // Shedding load is immediate and says nothing about the user; every other outcome waits for the floor.
      if (error instanceof Overloaded) await reservation.cancelled()
      else await floor.pad(started)
      throw error
    } finally {
      // Only after padding: a real user's answer must wait for the same floor as an unknown user's.
      if (workMs !== undefined) floor.observe(workMs)
    }
  }
}
