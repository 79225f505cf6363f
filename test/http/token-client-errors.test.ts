// RFC 6749 §5.2 answers for registered clients (issue 22 item 9), as a real OAuth client reads them:
// panva's openid-client, over a socket. A refused password grant must surface as `invalid_grant`
// (ResponseBodyError), not as an authentication challenge (WWWAuthenticateChallengeError), which is
// what the tutorial's 401 + `WWW-Authenticate: Bearer` makes of it. Anonymous callers keep that 401.
import type { AddressInfo } from 'node:net'
import * as oidc from 'openid-client'
import { describe, expect, it } from 'vitest'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'

async function served() {
  const t = await build()
  await t.addUser({ username: 'alice', password: 'alice-password' })
  await t.addUser({ username: 'bob', password: 'bob-password', disabled: true })
  await t.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
  const spa = (await t.services.clients.add({ name: 'spa' }, TEST_ACTOR)).client.client_id
  const backend = await t.services.clients.add({ name: 'backend', confidential: true }, TEST_ACTOR)
  return { t, base, spa, backend: { id: backend.client.client_id, secret: backend.secret! } }
}

function clientOf(base: string, clientId: string, auth: oidc.ClientAuth): oidc.Configuration {
  const config = new oidc.Configuration(
    { issuer: base, token_endpoint: `${base}/token` },
    clientId,
    undefined,
    auth,
  )
  // The test server speaks plain HTTP on the loopback address.
  oidc.allowInsecureRequests(config)
  return config
}

const passwordGrant = (config: oidc.Configuration, username: string, password: string) =>
  oidc.genericGrantRequest(config, 'password', { username, password })

/** What openid-client made of a refused request. */
async function failureOf(request: Promise<unknown>): Promise<unknown> {
  try {
    await request
  } catch (error) {
    return error
  }
  throw new Error('the request succeeded')
}

describe('a refused password grant, as openid-client reads it', () => {
  it('is invalid_grant for a public client that names itself, and a login works', async () => {
    const { base, spa } = await served()
    const config = clientOf(base, spa, oidc.None())
    const tokens = await passwordGrant(config, 'alice', 'alice-password')
    expect(tokens.access_token).toEqual(expect.any(String))
    const error = await failureOf(passwordGrant(config, 'alice', 'wrong-password'))
    expect(error).toBeInstanceOf(oidc.ResponseBodyError)
    expect(error).not.toBeInstanceOf(oidc.WWWAuthenticateChallengeError)
    expect((error as oidc.ResponseBodyError).error).toBe('invalid_grant')
    expect((error as oidc.ResponseBodyError).status).toBe(400)
  })

  it('is invalid_grant for a confidential client (HTTP Basic), alike for every wrong credential', async () => {
    const { base, backend } = await served()
    const config = clientOf(base, backend.id, oidc.ClientSecretBasic(backend.secret))
    const answers = []
    for (const [username, password] of [
      ['alice', 'wrong-password'],
      ['nobody', 'alice-password'],
      ['bob', 'wrong-password'],
    ] as const) {
      const error = await failureOf(passwordGrant(config, username, password))
      expect(error).toBeInstanceOf(oidc.ResponseBodyError)
      const { status, error: code, error_description } = error as oidc.ResponseBodyError
      answers.push({ status, code, error_description })
    }
    // No enumeration: an unknown or disabled user is answered as a wrong password.
    expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1)
    expect(answers[0]).toEqual({
      status: 400,
      code: 'invalid_grant',
      error_description: 'Incorrect username or password',
    })
  })

  it("is the tutorial's authentication challenge for an anonymous caller (drop-in)", async () => {
    const { base } = await served()
    // A client_id nobody registered is ignored, as FastAPI's OAuth2PasswordRequestForm does:
    // the caller is anonymous, and gets the answer every Gatehouse before this one gave.
    const config = clientOf(base, 'swagger-ui', oidc.None())
    const error = await failureOf(passwordGrant(config, 'alice', 'wrong-password'))
    expect(error).toBeInstanceOf(oidc.WWWAuthenticateChallengeError)
    expect((error as oidc.WWWAuthenticateChallengeError).status).toBe(401)
  })
})

describe('POST /token answers by who asked', () => {
  const wrongPassword = (t: TestApp, extra: Record<string, string> = {}) =>
    t.app.inject(tokenRequest({ username: 'alice', password: 'wrong-password', ...extra }))

  it('answers a registered client 400 invalid_grant without a Bearer challenge', async () => {
    const { t, spa } = await served()
    const response = await wrongPassword(t, { client_id: spa })
    expect(response.statusCode).toBe(400)
    expect(response.headers['www-authenticate']).toBeUndefined()
    expect(response.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: 'Incorrect username or password',
    })
  })

  it('answers an anonymous caller 401 with the Bearer challenge, as the tutorial does', async () => {
    const { t } = await served()
    const response = await wrongPassword(t)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer')
    expect(response.json()).toMatchObject({ detail: 'Incorrect username or password' })
  })
})
