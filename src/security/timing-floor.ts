// Equal-time login answers. A database migrated from a FastAPI app holds bcrypt-12 hashes (~260 ms to
// verify) beside argon2id ones (~30 ms), so no single dummy hash can make an unknown username look
// like both. Instead every failed password check is padded to one floor: the slowest verification the
// hasher may be asked for, plus a margin (a success proves the password, so it need not wait). Checks that overrun the floor (a costlier legacy hash, a
// loaded machine) raise it, so the next answers line up again. A check that tries two forms of the
// password (see passwordForms) waits for two floors, whoever the user: that depends on the input only.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'

export interface TimingFloor {
  /**
   * Resolve no earlier than `verifications` floors after `startedAt` (a performance.now() reading):
   * the number of verifications the input calls for, not the number done.
   */
  pad(startedAt: number, verifications?: number): Promise<void>
  /** Report how long one real verification took: overruns raise the floor, which then eases back. */
  observe(checkMs: number): void
  /**
   * Set the floor the timing never goes below, e.g. from a measured slowest verification. A lower base
   * (the slow hashes are gone) takes effect at once; a higher one too.
   */
  setBase(baseMs: number): void
  readonly floorMs: number
}

/** Margin over a verification that overran the floor. */
const MARGIN = 1.25
/**
 * Margin of the base over the slowest verification measured at start: the same hash can take half as
 * long again on a busy or throttled machine, and an answer that overruns the floor is the one that leaks.
 */
const BASE_MARGIN = 1.5
/**
 * The margin when every stored hash is of the kind the dummy verification uses (argon2id at the
 * current parameters): a known and an unknown username then do the same work, so the floor only has
 * to absorb jitter (and overruns still raise it).
 */
const SAME_KIND_MARGIN = 1.2
/** After an overrun the floor eases back toward its base by 2% per check (about 35 checks to halve). */
const EASE = 0.98

export function createTimingFloor(baseMs = 0, maxFloorMs = 5_000): TimingFloor {
  let base = baseMs
  let floorMs = baseMs
  return {
    get floorMs() {
      return floorMs
    },
    setBase(ms) {
      const lowered = Math.min(Math.ceil(ms), maxFloorMs) < base
      base = Math.min(Math.ceil(ms), maxFloorMs)
      floorMs = lowered ? base : Math.max(floorMs, base)
    },
    observe(checkMs) {
      const wanted = Math.min(Math.ceil(checkMs * MARGIN), maxFloorMs)
      floorMs = wanted > floorMs ? wanted : Math.max(base, floorMs * EASE)
    },
    async pad(startedAt, verifications = 1) {
      const end = () => startedAt + floorMs * verifications
      // Timers may fire a little early against performance.now(): wait again until the floor is really reached.
      for (
        let remaining = end() - performance.now();
        remaining > 0;
        remaining = end() - performance.now()
      ) {
        await sleep(Math.ceil(remaining))
      }
    },
  }
}

/**
 * The base floor for a hasher whose slowest verification took `slowestVerifyMs`; `sameKind`: every
 * stored hash is of the dummy verification's kind.
 */
export function floorFor(slowestVerifyMs: number, sameKind = false): number {
  return Math.ceil(slowestVerifyMs * (sameKind ? SAME_KIND_MARGIN : BASE_MARGIN))
}
