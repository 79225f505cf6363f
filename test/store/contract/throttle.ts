// The throttle-counter part of the store contract, which Redis also implements, and the one-counter
// form of updateThrottles the tests use.
import { describe, expect, it } from 'vitest'
import type { ThrottleState, ThrottleStore } from '../../../src/store/contract.js'
import { HOUR } from './fixtures.js'

/** One counter's update: updateThrottles with one key. */
export function updateThrottle<T>(
  store: ThrottleStore,
  key: string,
  update: (state: ThrottleState | undefined) => { state: ThrottleState | null; result: T },
): Promise<T> {
  return store.updateThrottles([key], ([state]) => {
    const { state: next, result } = update(state)
    return { states: [next], result }
  })
}

/** The throttle-counter part of the contract, which Redis also implements. */
export function throttleContract(name: string, open: () => Promise<ThrottleStore>): void {
  describe(`${name} throttle counters`, () => {
    it('updates several counters in one atomic update, named in any order, without deadlock', async () => {
      const store = await open()
      const [a, b] = [`a-${Math.random()}`, `b-${Math.random()}`]
      const read = (keys: string[]) =>
        store.updateThrottles(keys, (states) => ({
          states: states.map((state) => state ?? null),
          result: states.map((state) => state?.count),
        }))
      const bump = (keys: string[]) =>
        store.updateThrottles(keys, (states) => ({
          states: states.map((state) => ({
            count: (state?.count ?? 0) + 1,
            windowStart: 0,
            blockedUntil: 0,
            strikes: 0,
            expiresAt: Date.now() + HOUR,
          })),
          result: undefined,
        }))
      await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? [a, b] : [b, a])))
      expect(await read([a, b])).toEqual([20, 20])
      expect(await read([b, a])).toEqual([20, 20])
      await store.updateThrottles([b, a], ([stateB]) => ({
        states: [stateB ?? null, null],
        result: undefined,
      }))
      expect(await read([a, b])).toEqual([undefined, 20])
    })

    it('reads counters without writing them: absent and expired ones as undefined', async () => {
      const store = await open()
      const [a, b, c] = [`a-${Math.random()}`, `b-${Math.random()}`, `c-${Math.random()}`]
      const state = (expiresAt: number): ThrottleState => ({
        count: 2,
        windowStart: 1,
        blockedUntil: 0,
        strikes: 1,
        expiresAt,
      })
      const live = state(Date.now() + HOUR)
      await store.updateThrottles([a, b], () => ({
        states: [live, state(Date.now() + 1)],
        result: undefined,
      }))
      await new Promise((resolve) => setTimeout(resolve, 5))
      expect(await store.readThrottles([c, a, b])).toEqual([undefined, live, undefined])
      expect(await store.readThrottles([c])).toEqual([undefined])
      // Reading created nothing: the update still finds no counter under c.
      expect(
        await store.updateThrottles([c], ([found]) => ({ states: [null], result: found })),
      ).toBe(undefined)
    })

    it('updates throttle counters atomically, and forgets them on request or expiry', async () => {
      const store = await open()
      const k = `k-${Math.random()}`
      const bump = (key: string) =>
        updateThrottle(store, key, (state) => {
          const count = (state?.count ?? 0) + 1
          const next: ThrottleState = {
            count,
            windowStart: 0,
            blockedUntil: 0,
            strikes: 0,
            expiresAt: Date.now() + HOUR,
          }
          return { state: next, result: count }
        })
      const counts = await Promise.all(Array.from({ length: 20 }, () => bump(k)))
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      expect(
        await updateThrottle(store, k, (state) => ({ state: null, result: state?.count })),
      ).toBe(20)
      expect(
        await updateThrottle(store, k, (state) => ({ state: state ?? null, result: state })),
      ).toBeUndefined()
      await updateThrottle(store, `old-${k}`, () => ({
        state: { count: 1, windowStart: 0, blockedUntil: 0, strikes: 0, expiresAt: Date.now() - 1 },
        result: undefined,
      }))
      expect(
        await updateThrottle(store, `old-${k}`, (state) => ({
          state: state ?? null,
          result: state,
        })),
      ).toBeUndefined()
    })
  })
}
