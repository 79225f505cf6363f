// Operations: liveness and readiness probes, Prometheus metrics, graceful shutdown.
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../../src/config.js'
import { startServer } from '../../src/server.js'
import { build, seedUser, TEST_SECRET, tempDir, tokenRequest } from '../helper.js'
import { freePort } from '../support/server-process.js'

describe('probes', () => {
  it('/readyz answers ready while the database answers, and 503 with a reason when it does not', async () => {
    const t = await build()
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ready' })
    await t.store.close()
    const down = await t.app.inject({ method: 'GET', url: '/readyz' })
    expect(down.statusCode).toBe(503)
    expect(down.json()).toEqual({ status: 'unavailable', detail: 'The database is unreachable' })
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })
})

describe('metrics', () => {
  it('are off unless METRICS=true', async () => {
    const t = await build()
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404)
  })

  it('count logins by outcome, reuse detections and request durations by route', async () => {
    const t = await build({
      env: { METRICS: 'true', THROTTLE_PAIR_LIMIT: '1', REFRESH_REUSE_GRACE_SECONDS: '0' },
    })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const tokens = (
      await t.app.inject(tokenRequest({ username: 'alice', password: 'alice-password' }))
    ).json<{ access_token: string; refresh_token: string }>()
    await t.app.inject(tokenRequest({ username: 'bob', password: 'wrong' }))
    await t.app.inject(tokenRequest({ username: 'bob', password: 'wrong' }))
    await t.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    )
    await t.app.inject(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    )
    await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })

    const response = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toContain('text/plain')
    const text = response.body
    expect(text).toContain('gatehouse_logins_total{outcome="success"} 1')
    expect(text).toContain('gatehouse_logins_total{outcome="bad_credentials"} 1')
    expect(text).toContain('gatehouse_logins_total{outcome="throttled"} 1')
    expect(text).toContain('gatehouse_refresh_reuse_detected_total 1')
    expect(text).toMatch(/gatehouse_hash_queue_depth 0/)
    expect(text).toMatch(
      /gatehouse_http_request_duration_seconds_count\{route="\/users\/me\/",method="GET",status="401"\} 1/,
    )
    expect(text).not.toContain(tokens.access_token)
  })
})

describe('the server process', () => {
  async function start(env: Record<string, string>) {
    const dir = tempDir()
    const config = parseConfig({
      SECRET_KEY: TEST_SECRET,
      DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
      PORT: '0',
      LOG_LEVEL: 'silent',
      ...env,
    })
    await seedUser(config.databaseUrl, { username: 'alice', password: 'alice-password' })
    const server = await startServer(config)
    onTestFinished(() => server.close())
    return server
  }

  it('serves metrics on METRICS_PORT and not on the main port', async () => {
    const port = await freePort()

    const server = await start({
      METRICS: 'true',
      METRICS_PORT: String(port),
      LOGIN_MIN_DURATION_MS: '0',
    })
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('gatehouse_hash_queue_depth')
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404)
  })

  it('finishes in-flight requests when it shuts down, then refuses new ones', async () => {
    // The login floor keeps the request in the handler well after its body has arrived.
    const server = await start({ LOGIN_MIN_DURATION_MS: '400' })
    // In flight: the server has routed the request and read all of its body.
    const received = new Promise<void>((resolve) =>
      server.app.server.once('request', (request: IncomingMessage) =>
        request.once('end', () => resolve()),
      ),
    )
    const inFlight = fetch(`${server.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'alice-password' }),
    })
    await received
    const closing = server.close()
    const response = await inFlight
    expect(response.status).toBe(200)
    await closing
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow()
  })
})
