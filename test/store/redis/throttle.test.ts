import { describe, onTestFinished } from 'vitest'
import { openRedisThrottleStore } from '../../../src/store/redis/throttle.js'
import { requireService } from '../../support/services.js'
import { throttleContract } from '../contract/throttle.js'

const redisUp = await requireService('Redis', '127.0.0.1', 6379)

describe.runIf(redisUp)('Redis', () => {
  throttleContract('Redis', async () => {
    const store = openRedisThrottleStore('redis://127.0.0.1:6379')
    onTestFinished(() => store.close())
    return store
  })
})
