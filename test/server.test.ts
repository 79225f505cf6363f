// Over a real listening socket, not only `inject`.
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../src/config.js'
import { startServer } from '../src/server.js'
import { seedUser, TEST_SECRET, tempDir } from './helper.js'

describe('the server over a socket', () => {
  it('logs in over HTTP and serves /users/me/ to the bearer, and stops cleanly', async () => {
    const dir = tempDir()
    const config = parseConfig({
      SECRET_KEY: TEST_SECRET,
      DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
      PORT: '0',
      LOG_LEVEL: 'silent',
      LOGIN_MIN_DURATION_MS: '0',
    })
    await seedUser(config.databaseUrl, { username: 'alice', password: 'alice-password' })

    const server = await startServer(config)
    onTestFinished(() => server.close())
    const tokenResponse = await fetch(`${server.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'alice-password' }),
    })
    expect(tokenResponse.status).toBe(200)
    expect(tokenResponse.headers.get('cache-control')).toBe('no-store')
    const { access_token } = (await tokenResponse.json()) as { access_token: string }

    const me = await fetch(`${server.url}/users/me/`, {
      headers: { Authorization: `Bearer ${access_token}` },
    })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ username: 'alice' })

    const anonymous = await fetch(`${server.url}/users/me/`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')

    await server.close()
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow()
  })
})
