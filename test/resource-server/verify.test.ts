// The kit's framework-free core against a fake Gatehouse whose keys the test holds: what it refuses to
// be built with, the audience it checks (RFC 8707), 503 when the issuer or its keys cannot be reached,
// tokens of an HS256 Gatehouse verified by introspection (never with its secret), and client tokens
// refused unless a route allows them.
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import {
  BearerError,
  createGatehouseVerifier,
  type ClientPrincipal,
  type GatehousePrincipal,
  type GatehouseVerifierOptions,
  type UserPrincipal,
} from '../../packages/kit/src/verify.js'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  fakeGatehouse,
  signToken,
  type FakeGatehouse,
} from '../support/fake-gatehouse.js'

const RESOURCE = 'https://orders.example'
const credentials = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setUp() {
  const fake = await fakeGatehouse()
  cleanups.push(fake.close)
  return fake
}

/** The status and challenge the verifier answers for a token (200 when it passes). */
async function answer(promise: Promise<unknown>): Promise<{ status: number; challenge?: string }> {
  try {
    await promise
    return { status: 200 }
  } catch (error) {
    if (!(error instanceof BearerError)) throw error
    return { status: error.status, challenge: error.challenge }
  }
}
const statusOf = async (promise: Promise<unknown>) => (await answer(promise)).status

describe('construction', () => {
  const issuer = 'https://auth.example'
  const build = (options: Record<string, unknown>) => () =>
    createGatehouseVerifier(options as unknown as GatehouseVerifierOptions)

  it('refuses the removed `secret` option, saying what to configure instead', () => {
    expect(build({ issuer, secret: 'x'.repeat(40) })).toThrow(
      /`secret`.*gone.*never needs Gatehouse's SECRET_KEY.*'introspect' or 'events'.*asymmetric ALGORITHM/s,
    )
    expect(build({ issuer, algorithm: 'HS256' })).toThrow(TypeError)
  })

  it('refuses an unknown revocation mode instead of meaning none', () => {
    expect(build({ issuer, revocation: { mode: 'event', ...credentials } })).toThrow(
      `createGatehouseVerifier: unknown revocation mode "event" (one of 'none', 'introspect', 'events')`,
    )
    expect(build({ issuer, revocation: {} })).toThrow(/unknown revocation mode undefined/)
  })

  it('refuses introspect and events modes without client credentials', () => {
    for (const mode of ['introspect', 'events'])
      for (const missing of [
        {},
        { clientId: CLIENT_ID },
        { clientSecret: CLIENT_SECRET },
        { clientId: CLIENT_ID, clientSecret: '' },
      ])
        expect(build({ issuer, revocation: { mode, ...missing } })).toThrow(
          `revocation mode '${mode}' needs \`clientId\` and \`clientSecret\``,
        )
  })

  it('refuses a missing issuer and an empty audience', () => {
    expect(build({})).toThrow(/`issuer` is required/)
    expect(build({ issuer, audience: '' })).toThrow(/`audience` must be a non-empty string/)
  })
})

describe('the audience (RFC 8707)', () => {
  it("with `audience` set, accepts only tokens whose aud includes the service's resource URI", async () => {
    const fake = await setUp()
    const verifier = createGatehouseVerifier({ issuer: fake.issuer, audience: RESOURCE })
    const mint = (aud: string | string[]) => signToken(fake, { sub: 'alice', sid: 's', aud })
    expect(await statusOf(verifier.verify(await mint(RESOURCE)))).toBe(200)
    expect(await statusOf(verifier.verify(await mint([fake.issuer, RESOURCE])))).toBe(200)
    for (const aud of [
      fake.issuer,
      'https://billing.example',
      [fake.issuer, 'https://billing.example'],
    ])
      expect(await answer(verifier.verify(await mint(aud)))).toEqual({
        status: 401,
        challenge: 'Bearer error="invalid_token"',
      })
  })

  it("without `audience`, expects Gatehouse's own (its issuer), as before", async () => {
    const fake = await setUp()
    const verifier = createGatehouseVerifier({ issuer: fake.issuer })
    const mint = (aud: string) => signToken(fake, { sub: 'alice', sid: 's', aud })
    expect(await statusOf(verifier.verify(await mint(fake.issuer)))).toBe(200)
    expect(await statusOf(verifier.verify(await mint(RESOURCE)))).toBe(401)
  })

  it('checks the audience Gatehouse states for a token verified by introspection', async () => {
    const fake = await setUp()
    fake.signsWithSecret = true
    const verifier = createGatehouseVerifier({
      issuer: fake.issuer,
      audience: RESOURCE,
      revocation: { mode: 'introspect', ...credentials, onError: () => {} },
    })
    const mint = (aud: string | string[]) =>
      signToken(fake, { sub: 'alice', sid: 's', aud }, 'HS256')
    expect(await statusOf(verifier.verify(await mint([RESOURCE])))).toBe(200)
    expect(await statusOf(verifier.verify(await mint(fake.issuer)))).toBe(401)
  })
})

describe('an issuer that cannot be reached', () => {
  it('answers 503, not 401, when the metadata cannot be fetched', async () => {
    const fake = await setUp()
    const token = await signToken(fake, { sub: 'alice', sid: 's' })
    const verifier = createGatehouseVerifier({ issuer: fake.issuer })
    await fake.close()
    await expect(verifier.verify(token)).rejects.toMatchObject({
      status: 503,
      detail: 'The authorization server cannot be reached',
    })
  })

  it('answers 503 when the JWKS fails, and 401 for a kid the fetched JWKS lacks', async () => {
    const fake = await setUp()
    const token = await signToken(fake, { sub: 'alice', sid: 's' })
    fake.jwksFails = true
    const verifier = createGatehouseVerifier({ issuer: fake.issuer })
    expect(await statusOf(verifier.verify(token))).toBe(503)
    fake.jwksFails = false
    expect(await statusOf(verifier.verify(token))).toBe(200)
    const [header, ...rest] = token.split('.')
    const otherKid = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(header!, 'base64url').toString()), kid: 'nope' }),
    ).toString('base64url')
    expect(await statusOf(verifier.verify([otherKid, ...rest].join('.')))).toBe(401)
  })

  it('answers 503 when introspection fails', async () => {
    const fake = await setUp()
    fake.introspectionFails = true
    const verifier = createGatehouseVerifier({
      issuer: fake.issuer,
      revocation: { mode: 'introspect', ...credentials },
    })
    expect(await statusOf(verifier.verify(await signToken(fake, { sub: 'a', sid: 's' })))).toBe(503)
  })
})

describe('tokens of an HS256 Gatehouse', () => {
  async function setUp() {
    const fake = await fakeGatehouse()
    cleanups.push(fake.close)
    fake.signsWithSecret = true
    return fake
  }

  async function introspecting(fake: FakeGatehouse, cacheSeconds?: number) {
    const notices: Error[] = []
    const verifier = createGatehouseVerifier({
      issuer: fake.issuer,
      revocation: {
        mode: 'introspect',
        ...credentials,
        ...(cacheSeconds === undefined ? {} : { cacheSeconds }),
        onError: (error) => notices.push(error),
      },
    })
    return { verifier, notices }
  }

  it('are verified by introspection, each answer reused a few seconds, said once', async () => {
    const fake = await setUp()
    const { verifier, notices } = await introspecting(fake)
    const alice = await signToken(fake, { sub: 'alice', sid: 's1', scope: 'items' }, 'HS256')
    const bob = await signToken(fake, { sub: 'bob', sid: 's2' }, 'HS256')
    const principal = await verifier.verify(alice, ['items'])
    expect(principal).toMatchObject({ username: 'alice', session: 's1', scopes: ['items'] })
    expect(principal.claims).toMatchObject({ iss: fake.issuer, aud: fake.issuer, sid: 's1' })
    expect((await verifier.verify(alice)).username).toBe('alice')
    expect((await verifier.verify(bob)).username).toBe('bob')
    expect(fake.introspected).toEqual([alice, bob])
    expect(notices.map((notice) => notice.message)).toEqual([
      expect.stringMatching(/signs tokens with a secret .* verified by introspection/),
    ])
    expect(notices[0]!.message).not.toContain(alice)
  })

  it('are asked about on every request with cacheSeconds: 0, and refused once Gatehouse says so', async () => {
    const fake = await setUp()
    const { verifier } = await introspecting(fake, 0)
    const token = await signToken(fake, { sub: 'alice', sid: 's1' }, 'HS256')
    expect(await statusOf(verifier.verify(token))).toBe(200)
    fake.introspection = () => ({ active: false })
    expect(await statusOf(verifier.verify(token))).toBe(401)
    expect(fake.introspected).toEqual([token, token])
  })

  it('are refused when forged, or when Gatehouse calls the token a refresh token', async () => {
    const fake = await setUp()
    const { verifier } = await introspecting(fake)
    const token = await signToken(fake, { sub: 'alice', sid: 's1' }, 'HS256')
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(43)}`
    expect(await statusOf(verifier.verify(forged))).toBe(401)
    const genuine = fake.introspection
    fake.introspection = async (jwt) => ({ ...(await genuine(jwt)), token_type: 'refresh_token' })
    expect(await statusOf(verifier.verify(token))).toBe(401)
  })

  it('are refused without a call where Gatehouse publishes keys (it never issues them)', async () => {
    const fake = await setUp()
    fake.signsWithSecret = false
    const { verifier, notices } = await introspecting(fake)
    const token = await signToken(fake, { sub: 'alice', sid: 's1' }, 'HS256')
    expect(await statusOf(verifier.verify(token))).toBe(401)
    expect(await statusOf(verifier.verify(token))).toBe(401)
    expect(fake.introspected).toEqual([])
    expect(notices).toEqual([])
  })

  it('answer 503 without client credentials, with one process warning saying what to configure', async () => {
    const fake = await setUp()
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const verifier = createGatehouseVerifier({ issuer: fake.issuer })
    const token = await signToken(fake, { sub: 'alice', sid: 's1' }, 'HS256')
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 503 })
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 503 })
    expect(fake.introspected).toEqual([])
    expect(warn).toHaveBeenCalledTimes(1)
    expect(String(warn.mock.calls[0]![0])).toMatch(
      /no client credentials.*'introspect' or 'events'/s,
    )
  })
})

describe("a client's own token (client_credentials)", () => {
  it('is refused unless the caller allows clients, then typed as a client principal', async () => {
    const fake = await setUp()
    const verifier = createGatehouseVerifier({ issuer: fake.issuer })
    const token = await signToken(fake, { sub: CLIENT_ID, client_id: CLIENT_ID, scope: 'items' })
    expect(await answer(verifier.verify(token, ['items']))).toEqual({
      status: 401,
      challenge: 'Bearer error="invalid_token"',
    })
    expect(await statusOf(verifier.authenticate(`Bearer ${token}`))).toBe(401)
    const principal = await verifier.verify(token, ['items'], { allowClients: true })
    expect(principal).toMatchObject({
      username: null,
      session: null,
      subject: CLIENT_ID,
      client: CLIENT_ID,
      scopes: ['items'],
    })
    expectTypeOf(principal).toEqualTypeOf<GatehousePrincipal>()
    if (principal.username === null) expectTypeOf(principal).toEqualTypeOf<ClientPrincipal>()
    const user = await verifier.verify(await signToken(fake, { sub: 'alice', sid: 's' }))
    expectTypeOf(user).toEqualTypeOf<UserPrincipal>()
    expectTypeOf(user.username).toEqualTypeOf<string>()
  })
})
