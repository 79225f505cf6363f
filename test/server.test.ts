// Over a real listening socket, not only `inject`.
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../src/config.js'
import { startServer } from '../src/server.js'
import { seedUser, TEST_SECRET, tempDir } from './helper.js'
import { freePort } from './support/services.js'

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
    const dir = tempDir()
    const port = await freePort()
    const child = spawn(
      process.execPath,
      [resolve(import.meta.dirname, '..', 'bin', 'gatehouse.js'), 'serve', '--port', String(port)],
      {
        cwd: dir,
        env: { ...process.env, SECRET_KEY: TEST_SECRET, LOG_LEVEL: 'info', PORT: '8000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    onTestFinished(() => void child.kill('SIGKILL'))
    let output = ''
    await new Promise<void>((ready, failed) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('No users yet')) ready()
      })
      child.once('exit', (code) => failed(new Error(`exited with ${code}: ${output}`)))
    })
    // The first start says what to do next.
    expect(output).toContain('npx gatehouse users add <username>')
    const metadata = (await (
      await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`)
    ).json()) as { issuer: string; token_endpoint: string }
    expect(metadata.issuer).toBe(`http://127.0.0.1:${port}`)
    expect(metadata.token_endpoint).toBe(`http://127.0.0.1:${port}/token`)
  })
})

describe('the mail start-up line', () => {
  async function startOutput(env: Record<string, string>): Promise<string> {
    const port = await freePort()
    const child = spawn(
      process.execPath,
      [resolve(import.meta.dirname, '..', 'bin', 'gatehouse.js'), 'serve', '--port', String(port)],
      {
        cwd: tempDir(),
        env: { ...process.env, SECRET_KEY: TEST_SECRET, LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    onTestFinished(() => void child.kill('SIGKILL'))
    let output = ''
    await new Promise<void>((ready, failed) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('No users yet')) ready()
      })
      child.once('exit', (code) => failed(new Error(`exited with ${code}: ${output}`)))
    })
    return output
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
