import { describe, expect, it } from 'vitest'
import { build, captureLogs, tokenRequest } from '../helper.js'

describe('logs', () => {
  it('never contain passwords, hashes or tokens through a full scenario', async () => {
    const logs = captureLogs()
    const t = await build({ logs: logs.stream })
    const password = 'Sup3r-Secret-Passw0rd'
    await t.addUser({ username: 'alice', password })
    const hash = (await t.store.findUserByUsername('alice'))!.hashedPassword

    const token = await t.login('alice', password)
    await t.app.inject(tokenRequest({ username: 'alice', password: 'wrong-' + password }))
    await t.app.inject(tokenRequest({ username: 'ghost', password }))
    await t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${token}` },
    })
    await t.app.inject({
      method: 'GET',
      url: `/users/me/?access_token=${token}`,
      headers: { authorization: `Bearer ${token}x` },
    })
    await t.app.inject(tokenRequest(`username=alice&password=${password}&password=${password}`))
    await t.app.inject(
      tokenRequest(JSON.stringify({ username: 'alice', password }), 'application/json'),
    )

    const text = logs.text()
    expect(text).toContain('"path":"/token"')
    expect(text).toContain('"statusCode":401')
    for (const secret of [password, hash, token, token.split('.')[2]!, hash.split('$').at(-1)!]) {
      expect(text).not.toContain(secret)
    }
    expect(text).not.toMatch(/authorization/i)
  })

  it('write one access line per request: method, path without the query, client, status, time, reqId', async () => {
    const logs = captureLogs()
    const t = await build({ logs: logs.stream })
    await t.app.inject({ method: 'GET', url: '/users/me/?access_token=secret-in-query' })
    await t.app.inject({ method: 'GET', url: '/healthz' })
    const lines = logs
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'request completed')
    expect(lines).toHaveLength(2)
    const [me, health] = lines as [Record<string, unknown>, Record<string, unknown>]
    expect(me).toMatchObject({
      level: 30,
      pid: process.pid,
      req: { method: 'GET', path: '/users/me/', remoteAddress: '127.0.0.1' },
      res: { statusCode: 401 },
    })
    expect(typeof me.reqId).toBe('string')
    expect(typeof me.responseTime).toBe('number')
    expect(Object.keys(me).sort()).toEqual(
      ['hostname', 'level', 'msg', 'pid', 'req', 'reqId', 'res', 'responseTime', 'time'].sort(),
    )
    expect(health).toMatchObject({ req: { path: '/healthz' }, res: { statusCode: 200 } })
    expect(me.reqId).not.toBe(health.reqId)
    expect(logs.text()).not.toContain('secret-in-query')
  })

  it('log an upgrade of a legacy hash without the hash', async () => {
    const logs = captureLogs()
    const t = await build({ logs: logs.stream })
    const bcrypt = await import('@node-rs/bcrypt')
    const legacy = await bcrypt.hash('legacy-password', 4)
    await t.store.createUser({ username: 'old', hashedPassword: legacy })
    await t.login('old', 'legacy-password')
    const text = logs.text()
    expect(text).toContain('password hash upgraded')
    expect(text).not.toContain(legacy)
    expect(text).not.toContain('$argon2')
  })
})
