// Throttling counters in Redis (REDIS_URL), shared by every instance, with key expiry. Each update is
// an optimistic transaction (WATCH, MGET, MULTI/SET or DEL, EXEC, retried when another instance got
// there first), so the counting rule stays in one place (services/throttle/login-throttle.ts) for every store.
// WATCH is per connection, so updates take turns on one dedicated connection of this process.
import { Redis } from 'ioredis'
import { ThrottleUnavailable } from '../../errors.js'
import type { ThrottleState, ThrottleStore, ThrottleUpdate } from '../contract.js'

const PREFIX = 'gatehouse:throttle:'
/** Redis answers in well under a millisecond locally; past this it is treated as unreachable. */
const COMMAND_TIMEOUT_MS = 1_000
const MAX_ATTEMPTS = 20

export interface RedisThrottleStore extends ThrottleStore {
  close(): Promise<void>
}

export function openRedisThrottleStore(url: string): RedisThrottleStore {
  const redis = new Redis(url, {
    // Commands wait for the connection at most COMMAND_TIMEOUT_MS, and are not retried: a login
    // must not hang while Redis is away. Reconnection goes on in the background.
    maxRetriesPerRequest: 0,
    connectTimeout: COMMAND_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  })
  // Errors surface on the commands that fail; the connection's own error events would only repeat them.
  redis.on('error', () => {})
  let turn: Promise<unknown> = Promise.resolve()

  const attempt = async <T>(keys: readonly string[], update: ThrottleUpdate<T>): Promise<T> => {
    for (let tries = 0; tries < MAX_ATTEMPTS; tries++) {
      await redis.watch(...keys)
      const raws = await redis.mget(...keys)
      const now = Date.now()
      const { states, result } = update(
        raws.map((raw) => {
          const parsed = raw === null ? undefined : (JSON.parse(raw) as ThrottleState)
          return parsed && parsed.expiresAt > now ? parsed : undefined
        }),
      )
      const transaction = redis.multi()
      keys.forEach((key, index) => {
        const state = states[index]
        if (state)
          transaction.set(key, JSON.stringify(state), 'PX', Math.max(1, state.expiresAt - now))
        else transaction.del(key)
      })
      // EXEC answers null when a watched key changed meanwhile: read again and redo.
      if ((await transaction.exec()) !== null) return result
    }
    throw new ThrottleUnavailable('throttle counter kept changing under concurrent updates')
  }

  return {
    async updateThrottles(keys, update) {
      const run = turn.then(() =>
        attempt(
          keys.map((key) => PREFIX + key),
          update,
        ),
      )
      turn = run.catch(() => undefined)
      try {
        return await run
      } catch (error) {
        if (error instanceof ThrottleUnavailable) throw error
        await redis.unwatch().catch(() => undefined)
        throw new ThrottleUnavailable(`Redis is unreachable: ${(error as Error).message}`, {
          cause: error,
        })
      }
    },
    async readThrottles(keys) {
      try {
        const raws = await redis.mget(...keys.map((key) => PREFIX + key))
        const now = Date.now()
        return raws.map((raw) => {
          const parsed = raw === null ? undefined : (JSON.parse(raw) as ThrottleState)
          return parsed && parsed.expiresAt > now ? parsed : undefined
        })
      } catch (error) {
        throw new ThrottleUnavailable(`Redis is unreachable: ${(error as Error).message}`, {
          cause: error,
        })
      }
    },
    async close() {
      redis.disconnect()
    },
  }
}
