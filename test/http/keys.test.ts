// Asymmetric keys, rotation and discovery (RFC 8725, RFC 9068, RFC 7517, RFC 8414).
import {
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type JsonWebKey,
} from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SecurityEvent } from '../../src/services/audit/security-events.js'
import { createKeyManager } from '../../src/services/keys/signing-keys.js'
import { build, tempDir, type TestApp } from '../helper.js'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const part = (token: string, index: number) =>
  JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString()) as Record<
    string,
    unknown
  >

async function withAlice(env: Record<string, string>): Promise<TestApp> {
  const t = await build({ env })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  return t
}

const me = (t: TestApp, token: string) =>
  t.app.inject({ method: 'GET', url: '/users/me/', headers: { authorization: `Bearer ${token}` } })
const jwks = async (t: TestApp) =>
  (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{
    keys: Array<JsonWebKey & { kid: string }>
  }>().keys

afterEach(() => {
  vi.useRealTimers()
})

describe.each(['RS256', 'ES256', 'EdDSA'])('ALGORITHM=%s', (algorithm) => {
  it('signs at+jwt tokens with a kid that the published JWKS verifies', async () => {
    const t = await withAlice({ ALGORITHM: algorithm, ISSUER: 'https://auth.example.com' })
    const token = await t.login('alice', 'alice-password')
    const header = part(token, 0)
    expect(header).toMatchObject({ alg: algorithm, typ: 'at+jwt' })
    const keys = await jwks(t)
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({ kid: header.kid, alg: algorithm, use: 'sig' })
    expect(keys[0]).not.toHaveProperty('d')
    // Anyone can verify with the published key alone, as another service would.
    const publicKey = createPublicKey({ key: keys[0]!, format: 'jwk' })
    const [h, p, s] = token.split('.')
    const options =
      algorithm === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey
    const digest = algorithm === 'EdDSA' ? null : 'sha256'
    expect(
      cryptoVerify(digest, Buffer.from(`${h}.${p}`), options, Buffer.from(s!, 'base64url')),
    ).toBe(true)
    expect(part(token, 1)).toMatchObject({
      iss: 'https://auth.example.com',
      aud: 'https://auth.example.com',
      sub: 'alice',
    })
    expect((await me(t, token)).statusCode).toBe(200)
  })
})

describe('asymmetric keys', () => {
  it('refuse an HS256 token signed with the public key (algorithm confusion)', async () => {
    const t = await withAlice({ ALGORITHM: 'RS256' })
    const token = await t.login('alice', 'alice-password')
    const [key] = await jwks(t)
    const pem = createPublicKey({ key: key!, format: 'jwk' })
      .export({ format: 'pem', type: 'spki' })
      .toString()
    for (const secret of [pem, `  ${pem}`, pem.trim()]) {
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: key!.kid })}.${token.split('.')[1]}`
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
      const response = await me(t, forged)
      expect(response.statusCode).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    }
  })

  it('ignore jwk, jku and x5u headers that point at an attacker’s key', async () => {
    const t = await withAlice({ ALGORITHM: 'ES256' })
    const token = await t.login('alice', 'alice-password')
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const attackerJwk = attacker.publicKey.export({ format: 'jwk' })
    for (const extra of [
      { jwk: attackerJwk },
      { jku: 'https://evil.example/jwks.json', kid: 'evil' },
      { x5u: 'https://evil.example/cert.pem' },
    ]) {
      const input = `${b64({ alg: 'ES256', typ: 'at+jwt', ...extra })}.${token.split('.')[1]}`
      const signature = cryptoSign('sha256', Buffer.from(input), {
        key: attacker.privateKey,
        dsaEncoding: 'ieee-p1363',
      }).toString('base64url')
      expect((await me(t, `${input}.${signature}`)).statusCode).toBe(401)
    }
  })

  it('keep tokens of the old key valid after a rotation, sign with the new one, and retire the old one later', async () => {
    const t = await withAlice({ ALGORITHM: 'EdDSA', ACCESS_TOKEN_EXPIRE_MINUTES: '10' })
    const before = await t.login('alice', 'alice-password')
    const oldKid = part(before, 0).kid

    // Rotated by another process (the CLI) on the same database, and recorded as its operator's doing.
    const recorded: SecurityEvent[] = []
    const manager = await createKeyManager({
      algorithm: 'EdDSA',
      secretKey: 'unused',
      signingKeyPem: undefined,
      store: t.store,
      accessTokenTtlSeconds: 600,
      events: async (event) => {
        recorded.push(event)
      },
    })
    const newKid = await manager.rotate({ name: 'cli:ops', ip: null, userAgent: null })
    expect(newKid).not.toBe(oldKid)
    expect(recorded).toEqual([
      expect.objectContaining({
        type: 'admin',
        outcome: 'rotate_signing_key',
        username: 'cli:ops',
        actor: 'cli:ops',
        detail: `key ${newKid}`,
      }),
    ])

    // Another instance on the same database signs with the new key; this one accepts its tokens at once
    // (the unknown kid makes it reload its keys) and keeps accepting the old key's tokens.
    const other = await build({
      dir: t.dir,
      env: { ALGORITHM: 'EdDSA', ACCESS_TOKEN_EXPIRE_MINUTES: '10' },
    })
    const after = await other.login('alice', 'alice-password')
    expect(part(after, 0).kid).toBe(newKid)
    expect((await me(t, after)).statusCode).toBe(200)
    expect((await me(t, before)).statusCode).toBe(200)
    expect((await me(other, before)).statusCode).toBe(200)
    expect((await jwks(t)).map((key) => key.kid).sort()).toEqual([oldKid, newKid].sort())
    expect(part(await t.login('alice', 'alice-password'), 0).kid).toBe(newKid)

    // Instances that have not reloaded yet keep signing with the old key for up to a minute: its
    // tokens must verify until they expire, so the key outlives the lifetime by that minute.
    vi.useFakeTimers({ toFake: ['Date'] })
    const rotatedAt = Date.now()
    vi.setSystemTime(rotatedAt + 11 * 60_000)
    const lagging = await build({
      dir: t.dir,
      env: { ALGORITHM: 'EdDSA', ACCESS_TOKEN_EXPIRE_MINUTES: '10' },
    })
    expect((await jwks(lagging)).map((key) => key.kid).sort()).toEqual([oldKid, newKid].sort())

    // ... and once the old key's tokens have all expired, it is gone from the JWKS and from verification.
    vi.setSystemTime(rotatedAt + 12 * 60_000)
    const fresh = await build({
      dir: t.dir,
      env: { ALGORITHM: 'EdDSA', ACCESS_TOKEN_EXPIRE_MINUTES: '10' },
    })
    expect((await jwks(fresh)).map((key) => key.kid)).toEqual([newKid])
    expect(part(await fresh.login('alice', 'alice-password'), 0).kid).toBe(newKid)
  })

  it('load the signing key from SIGNING_KEY_FILE', async () => {
    const dir = tempDir()
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const file = join(dir, 'signing-key.pem')
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }))
    const t = await withAlice({ ALGORITHM: 'RS256', SIGNING_KEY_FILE: file })
    const token = await t.login('alice', 'alice-password')
    const keys = await jwks(t)
    expect(keys).toHaveLength(1)
    expect(part(token, 0).kid).toBe(keys[0]!.kid)
    expect(keys[0]!.n).toBe(privateKey.export({ format: 'jwk' }).n)
  })

  it('refuse a SIGNING_KEY_FILE of the wrong kind', async () => {
    const dir = tempDir()
    const file = join(dir, 'ec.pem')
    writeFileSync(
      file,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        format: 'pem',
        type: 'pkcs8',
      }),
    )
    await expect(build({ env: { ALGORITHM: 'RS256', SIGNING_KEY_FILE: file } })).rejects.toThrow(
      /needs a rsa key/,
    )
  })
})

describe('discovery', () => {
  it('publishes RFC 8414 metadata built from ISSUER, not from the Host header', async () => {
    const t = await build({ env: { ISSUER: 'https://auth.example.com' } })
    const response = await t.app.inject({
      method: 'GET',
      url: '/.well-known/oauth-authorization-server',
      headers: { host: 'evil.example' },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      issuer: 'https://auth.example.com',
      token_endpoint: 'https://auth.example.com/token',
      revocation_endpoint: 'https://auth.example.com/revoke',
      jwks_uri: 'https://auth.example.com/.well-known/jwks.json',
      grant_types_supported: [
        'password',
        'refresh_token',
        'http://auth0.com/oauth/grant-type/mfa-otp',
        'http://auth0.com/oauth/grant-type/mfa-recovery-code',
        'client_credentials',
      ],
      scopes_supported: ['me', 'items', 'admin'],
    })
    expect(response.body).not.toContain('evil.example')
  })

  it('publishes no keys for HMAC algorithms', async () => {
    const t = await build()
    expect(await jwks(t)).toEqual([])
  })
})
