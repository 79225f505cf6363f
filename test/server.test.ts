// Over a real listening socket, not only `inject`.
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../src/config.js'
import { startServer } from '../src/server.js'
import { seedUser, TEST_SECRET, tempDir } from './helper.js'
import { startServerProcess } from './support/server-process.js'

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

describe('gatehouse serve --port', () => {
  it('moves the default issuer with the port, as PORT does', async () => {
    const server = await startServerProcess({
      cwd: tempDir(),
      env: { SECRET_KEY: TEST_SECRET, LOG_LEVEL: 'info', PORT: '8000' },
      ready: { output: 'No users yet' },
    })
    // The first start says what to do next.
    expect(server.stdout()).toContain('npx gatehouse users add <username>')
    const metadata = (await (
      await fetch(`${server.url}/.well-known/oauth-authorization-server`)
    ).json()) as { issuer: string; token_endpoint: string }
    expect(metadata.issuer).toBe(`http://127.0.0.1:${server.port}`)
    expect(metadata.token_endpoint).toBe(`http://127.0.0.1:${server.port}/token`)
  })
})

describe('the mail start-up line', () => {
  async function startOutput(env: Record<string, string>): Promise<string> {
    const server = await startServerProcess({
      cwd: tempDir(),
      env: { SECRET_KEY: TEST_SECRET, LOG_LEVEL: 'info', ...env },
      ready: { output: 'No users yet' },
    })
    return server.stdout()
  }

  it('says the mail features are off in production without SMTP_URL, and names the SMTP host only', async () => {
    const production = await startOutput({ NODE_ENV: 'production', SMTP_URL: '' })
    expect(production).toContain(
      'SMTP_URL is not set in production: password reset and e-mail verification are disabled',
    )
    const smtp = await startOutput({ SMTP_URL: 'smtp://mailer:s3cr3t-pw@127.0.0.1:2525' })
    expect(smtp).toContain('mail is sent through smtp://127.0.0.1:2525')
    expect(smtp).not.toContain('s3cr3t-pw')
  })
})
