// Secrets never leak: a full scenario (logins good and bad, refresh, reuse, logout, password changes,
// revocation, throttled attempts, a legacy hash upgraded) with the app's logger at debug level. Its
// logs hold no password, hash, refresh token or access token, and no answer holds a hash or a password.
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { describe, expect, it } from 'vitest'
import { build, captureLogs, tokenRequest } from '../helper.js'

const PASSWORDS = {
  alice: 'Alice-Secret-Passw0rd',
  aliceNew: 'Alice-Brand-New-Passw0rd',
  aliceTypo: 'Alice-Secret-Passw0rd!',
  wrongCurrent: 'Not-Her-Current-Passw0rd',
  legacy: 'Legacy-Bcrypt-Passw0rd',
  dora: 'Dora-Disabled-Passw0rd',
}

interface Tokens {
  access_token: string
  refresh_token: string
}

describe('secrets', () => {
  it('never appear in logs, and hashes and passwords never appear in answers, through a full scenario', async () => {
    const logs = captureLogs()
    const t = await build({
      logs: logs.stream,
      env: { THROTTLE_PAIR_LIMIT: '3', REFRESH_REUSE_GRACE_SECONDS: '0' },
    })
    await t.addUser({ username: 'alice', password: PASSWORDS.alice, email: 'alice@example.com' })
    await t.addUser({ username: 'dora', password: PASSWORDS.dora, disabled: true })
    const bcrypt = await import('@node-rs/bcrypt')
    await t.store.createUser({
      username: 'legacy',
      hashedPassword: await bcrypt.hash(PASSWORDS.legacy, 4),
    })
    const hashes = new Set<string>()
    const rememberHashes = async () => {
      for (const user of await t.store.listUsers()) hashes.add(user.hashedPassword)
    }
    await rememberHashes()

    const answers: LightMyRequestResponse[] = []
    const tokens: Tokens[] = []
    const send = async (request: InjectOptions): Promise<LightMyRequestResponse> => {
      const response = await t.app.inject(request)
      answers.push(response)
      return response
    }
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const login = async (username: string, password: string, remoteAddress = '192.0.2.1') => {
      const response = await send({ ...tokenRequest({ username, password }), remoteAddress })
      if (response.statusCode === 200) tokens.push(response.json<Tokens>())
      return response
    }

    // Logins, good and bad.
    expect((await login('alice', PASSWORDS.alice)).statusCode).toBe(200)
    const first = tokens.at(-1)!
    expect((await login('alice', PASSWORDS.aliceTypo)).statusCode).toBe(401)
    expect((await login('ghost', PASSWORDS.alice)).statusCode).toBe(401)
    expect((await login('dora', PASSWORDS.dora)).statusCode).toBe(400)
    expect((await login('legacy', PASSWORDS.legacy)).statusCode).toBe(200)
    await rememberHashes() // the upgraded argon2id hash of the legacy user

    // Requests carrying tokens in places where a careless logger would print them.
    await send({ method: 'GET', url: '/users/me/', headers: bearer(first.access_token) })
    await send({
      method: 'GET',
      url: `/users/me/?access_token=${first.access_token}&refresh_token=${first.refresh_token}`,
      headers: bearer(`${first.access_token}x`),
    })
    await send({
      method: 'POST',
      url: `/token?password=${PASSWORDS.alice}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'alice', password: PASSWORDS.alice }),
    })
    await send(
      tokenRequest(`username=alice&password=${PASSWORDS.alice}&password=${PASSWORDS.alice}`),
    )
    await send({ method: 'GET', url: '/users/me/sessions', headers: bearer(first.access_token) })

    // Refresh, then reuse of the spent token (which ends the session).
    const refreshed = await send(
      tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
    )
    expect(refreshed.statusCode).toBe(200)
    tokens.push(refreshed.json<Tokens>())
    expect(
      (
        await send(
          tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
        )
      ).statusCode,
    ).toBe(400)

    // Logout.
    await login('alice', PASSWORDS.alice)
    expect(
      (await send({ method: 'POST', url: '/logout', headers: bearer(tokens.at(-1)!.access_token) }))
        .statusCode,
    ).toBe(204)

    // Password changes, refused and accepted.
    await login('alice', PASSWORDS.alice)
    const changer = tokens.at(-1)!.access_token
    const change = (current: string) =>
      send({
        method: 'POST',
        url: '/users/me/password',
        headers: bearer(changer),
        payload: { current_password: current, new_password: PASSWORDS.aliceNew },
      })
    expect((await change(PASSWORDS.wrongCurrent)).statusCode).toBe(400)
    expect((await change(PASSWORDS.alice)).statusCode).toBe(204)
    await rememberHashes()

    // Revocation of a refresh token and of an access token.
    await login('alice', PASSWORDS.aliceNew)
    await send({ ...tokenRequest({ token: tokens.at(-1)!.refresh_token }), url: '/revoke' })
    await login('alice', PASSWORDS.aliceNew)
    await send({
      ...tokenRequest({ token: tokens.at(-1)!.access_token, token_type_hint: 'access_token' }),
      url: '/revoke',
    })

    // Throttled attempts, with the password in every body.
    const statuses = []
    for (let i = 0; i < 5; i++)
      statuses.push((await login('alice', PASSWORDS.aliceTypo, '198.51.100.9')).statusCode)
    expect(statuses).toContain(429)

    // Logs: a line for every request, and none of the secrets.
    const text = logs.text()
    expect(
      text.split('\n').filter((line) => line.includes('"statusCode"')).length,
    ).toBeGreaterThanOrEqual(answers.length)
    expect(text).toContain('"statusCode":429')
    expect(text).toContain('password hash upgraded')
    const secrets = [
      ...Object.values(PASSWORDS),
      ...[...hashes].flatMap((hash) => [hash, hash.split('$').at(-1)!]),
      ...tokens.flatMap(({ access_token, refresh_token }) => [
        access_token,
        access_token.split('.')[2]!,
        refresh_token,
      ]),
    ]
    expect(tokens.length).toBeGreaterThanOrEqual(7)
    for (const secret of secrets) expect(text, 'a secret in the logs').not.toContain(secret)
    expect(text).not.toMatch(/\$argon2|\$2[aby]\$|authorization|bearer/i)

    // Answers: no hash, no password, whatever the status.
    for (const answer of answers) {
      const whole = JSON.stringify(answer.headers) + answer.body
      for (const secret of [
        ...hashes,
        ...[...hashes].map((hash) => hash.split('$').at(-1)!),
        ...Object.values(PASSWORDS),
      ]) {
        expect(whole, `answer ${answer.statusCode} ${answer.body.slice(0, 200)}`).not.toContain(
          secret,
        )
      }
      expect(whole).not.toMatch(/\$argon2|\$2[aby]\$|hashed_password/)
    }
  })
})
