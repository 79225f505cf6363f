// Throttling counters in Redis: shared by instances that share nothing else, and the documented
// behaviour when Redis is unreachable (REDIS_FAILURE_MODE).
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { build, captureLogs, tokenRequest, type TestApp } from '../helper.js'
import { requireService } from '../support/services.js'

const redisUp = await requireService('Redis', '127.0.0.1', 6379)

const attempt = (t: TestApp, username: string, password: string) =>
  t.app.inject({ ...tokenRequest({ username, password }), remoteAddress: '203.0.113.9' })

describe.runIf(redisUp)('throttling with REDIS_URL', () => {
  it('counts attempts made on two instances together', async () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379' }
    const a = await build({ env })
    const b = await build({ env })
    const username = `user-${randomBytes(6).toString('hex')}`
    await b.addUser({ username, password: 'right-password' })
    for (let i = 0; i < 3; i++) expect((await attempt(a, username, 'wrong')).statusCode).toBe(401)
    for (let i = 0; i < 2; i++) expect((await attempt(b, username, 'wrong')).statusCode).toBe(401)
    expect((await attempt(b, username, 'right-password')).statusCode).toBe(429)
    expect((await attempt(a, username, 'wrong')).statusCode).toBe(429)
  })
})

describe('when Redis is unreachable', () => {
  it('refuses logins with 503 by default (REDIS_FAILURE_MODE=closed)', async () => {
    const t = await build({ env: { REDIS_URL: 'redis://127.0.0.1:1' } })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const response = await attempt(t, 'alice', 'alice-password')
    expect(response.statusCode).toBe(503)
    expect(response.headers['retry-after']).toBe('1')
    expect(response.json()).toMatchObject({ error: 'temporarily_unavailable' })
  })

  it('lets logins through unthrottled with a logged warning when REDIS_FAILURE_MODE=open', async () => {
    const logs = captureLogs()
    const t = await build({
      env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_FAILURE_MODE: 'open' },
      logs: logs.stream,
    })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    expect((await attempt(t, 'alice', 'alice-password')).statusCode).toBe(200)
    expect((await attempt(t, 'alice', 'wrong')).statusCode).toBe(401)
    expect(logs.text()).toContain('login throttling is unavailable')
  })
})
