// Whatever the driver, a database that cannot be reached is a 503 the client may retry, not a 500.
import { describe, expect, it, vi } from 'vitest'
import { DatabaseUnavailable } from '../../src/errors.js'
import { build, tokenRequest } from '../helper.js'

describe('an unreachable database', () => {
  it('answers 503 with Retry-After: 1 and a body without internals', async () => {
    // Every token owner read from the database (none kept in memory), as after the feed is lost.
    const t = await build({ env: { TOKEN_OWNER_CACHE_SIZE: '0' } })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const token = await t.login('alice', 'alice-password')
    const failure = new DatabaseUnavailable('connect ECONNREFUSED 10.0.0.5:5432')
    vi.spyOn(t.store, 'findTokenOwner').mockRejectedValue(failure)
    vi.spyOn(t.store, 'updateThrottles').mockRejectedValue(failure)
    for (const response of [
      await t.app.inject({
        method: 'GET',
        url: '/users/me/',
        headers: { authorization: `Bearer ${token}` },
      }),
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' })),
    ]) {
      expect(response.statusCode).toBe(503)
      expect(response.headers['retry-after']).toBe('1')
      expect(response.json()).toEqual({ detail: 'The database is unavailable, try again shortly' })
      expect(response.body).not.toContain('10.0.0.5')
    }
  })
})
