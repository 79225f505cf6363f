// The JWT attack corpus (RFC 8725, the published attacks on JWT libraries), run against every signing
// algorithm: `alg: none` in all spellings, algorithm confusion with the public key as an HMAC secret,
// hostile `kid`, `jku`, `x5u`, `jwk` and `x5c` headers, `crit`, mangled signatures and segments,
// tampered claims, claims of the wrong type or at the edges of time, foreign issuers and audiences,
// tokens of removed users, huge tokens. Each one is a 401 with `error="invalid_token"`.
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildShared, TEST_SECRET, type TestApp } from '../helper.js'

type Algorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA'
const ALGORITHMS: Algorithm[] = ['HS256', 'RS256', 'ES256', 'EdDSA']
const HMAC_DIGEST = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const

type Json = Record<string, unknown>

interface Context {
  t: TestApp & { close(): Promise<void> }
  algorithm: Algorithm
  /** A real access token of alice, and its decoded parts. */
  token: string
  header: Json
  claims: Json
  /** The signature of another real token. */
  otherSignature: string
  /** SPKI PEM of the published key (asymmetric algorithms only). */
  publicPem: string
  publicJwk: JsonWebKey & { kid?: string }
  /** Signs with the real key, so that only the header or claims are wrong. */
  resign(header: Json, claims: Json): string
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const decode = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString()) as Json
const now = () => Math.floor(Date.now() / 1000)

function hmac(
  header: Json,
  claims: Json,
  secret: string | Buffer,
  algorithm: keyof typeof HMAC_DIGEST = 'HS256',
): string {
  const input = `${b64(header)}.${b64(claims)}`
  return `${input}.${createHmac(HMAC_DIGEST[algorithm], secret).update(input).digest('base64url')}`
}

function signWith(
  algorithm: Exclude<Algorithm, 'HS256'>,
  key: KeyObject,
  header: Json,
  claims: Json,
): string {
  const input = `${b64(header)}.${b64(claims)}`
  const data = Buffer.from(input)
  const signature =
    algorithm === 'EdDSA'
      ? cryptoSign(null, data, key)
      : algorithm === 'ES256'
        ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : cryptoSign('sha256', data, key)
  return `${input}.${signature.toString('base64url')}`
}

function attackerKeyPair(algorithm: Exclude<Algorithm, 'HS256'>) {
  if (algorithm === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048 })
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return generateKeyPairSync('ed25519')
}

async function setUp(algorithm: Algorithm): Promise<Context> {
  const t = await buildShared({ env: { ALGORITHM: algorithm } })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  await t.addUser({ username: 'bob', password: 'bob-password' })
  const token = await t.login('alice', 'alice-password')
  const otherSignature = (await t.login('alice', 'alice-password')).split('.')[2]!
  const [header, claims] = token
    .split('.')
    .map((part, index) => (index < 2 ? decode(part) : {})) as [Json, Json]
  if (algorithm === 'HS256') {
    return {
      t,
      algorithm,
      token,
      header,
      claims,
      otherSignature,
      publicPem: '',
      publicJwk: {},
      resign: (h, c) => hmac(h, c, TEST_SECRET),
    }
  }
  const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{
    keys: Array<JsonWebKey & { kid: string }>
  }>()
  const publicJwk = jwks.keys[0]!
  const publicPem = createPublicKey({ key: publicJwk, format: 'jwk' })
    .export({ format: 'pem', type: 'spki' })
    .toString()
  const [stored] = await t.store.listSigningKeys(Date.now())
  const privateKey = createPrivateKey(stored!.privateKey)
  return {
    t,
    algorithm,
    token,
    header,
    claims,
    otherSignature,
    publicPem,
    publicJwk,
    resign: (h, c) => signWith(algorithm, privateKey, h, c),
  }
}

interface AttackCase {
  name: string
  make(context: Context): string | Promise<string>
  /** Algorithms the attack applies to (default: all). */
  only?: Algorithm[]
  /** The expected detail (default: the generic one). */
  detail?: string
}

const INVALID = 'Could not validate credentials'
const EXPIRED = 'Token has expired'
const ASYMMETRIC: Algorithm[] = ['RS256', 'ES256', 'EdDSA']

const withClaims = (change: (claims: Json) => void) => (c: Context) => {
  const claims = structuredClone(c.claims)
  change(claims)
  return c.resign(c.header, claims)
}
const withHeader = (change: (header: Json) => void) => (c: Context) => {
  const header = structuredClone(c.header)
  change(header)
  return c.resign(header, c.claims)
}
const segments = (c: Context) => c.token.split('.') as [string, string, string]

const cases: AttackCase[] = []

// alg none (CVE-2015-9235 and kin), in every spelling, with and without a signature part.
for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
  const unsigned = (c: Context) => `${b64({ ...c.header, alg })}.${b64(c.claims)}`
  cases.push(
    { name: `alg ${alg} with a trailing dot`, make: (c) => `${unsigned(c)}.` },
    { name: `alg ${alg} without a trailing dot`, make: unsigned },
    { name: `alg ${alg} with the real signature`, make: (c) => `${unsigned(c)}.${segments(c)[2]}` },
    { name: `alg ${alg} with a junk signature`, make: (c) => `${unsigned(c)}.${b64('junk')}` },
  )
}
cases.push(
  {
    name: 'alg as an empty string',
    make: (c) => `${b64({ ...c.header, alg: '' })}.${b64(c.claims)}.`,
  },
  {
    name: 'no alg at all',
    make: (c) => `${b64({ typ: 'at+jwt' })}.${b64(c.claims)}.${segments(c)[2]}`,
  },
  {
    name: 'alg null',
    make: (c) => `${b64({ ...c.header, alg: null })}.${b64(c.claims)}.${segments(c)[2]}`,
  },
  {
    name: 'alg as an array',
    make: (c) => `${b64({ ...c.header, alg: [c.algorithm] })}.${b64(c.claims)}.${segments(c)[2]}`,
  },
  {
    name: 'the algorithm name in lower case',
    make: withHeader((h) => (h.alg = String(h.alg).toLowerCase())),
  },
  {
    name: 'the algorithm name with a trailing space',
    make: withHeader((h) => (h.alg = `${String(h.alg)} `)),
  },
)

// Algorithm confusion (CVE-2016-10555): an HMAC signed with the published public key as the secret.
const pemVariants: Array<[string, (pem: string) => string | Buffer]> = [
  ['its SPKI PEM', (pem) => pem],
  ['its PEM with leading whitespace', (pem) => `  \n${pem}`],
  ['its PEM with CRLF line endings', (pem) => pem.replaceAll('\n', '\r\n')],
  ['its PEM without the final newline', (pem) => pem.trim()],
  ['its DER bytes', (pem) => createPublicKey(pem).export({ format: 'der', type: 'spki' })],
  ['its JWK as JSON', (pem) => JSON.stringify(createPublicKey(pem).export({ format: 'jwk' }))],
]
for (const [variant, secretOf] of pemVariants) {
  for (const hs of ['HS256', 'HS512'] as const) {
    cases.push({
      name: `${hs} signed with the public key as the secret (${variant})`,
      only: ASYMMETRIC,
      make: (c) => hmac({ ...c.header, alg: hs }, c.claims, secretOf(c.publicPem), hs),
    })
  }
}
cases.push(
  {
    name: 'HS256 signed with the RSA public key in PKCS#1 form',
    only: ['RS256'],
    make: (c) =>
      hmac(
        { ...c.header, alg: 'HS256' },
        c.claims,
        createPublicKey(c.publicPem).export({ format: 'pem', type: 'pkcs1' }).toString(),
      ),
  },
  {
    name: 'HS256 signed with the raw Ed25519 public key bytes',
    only: ['EdDSA'],
    make: (c) =>
      hmac({ ...c.header, alg: 'HS256' }, c.claims, Buffer.from(c.publicJwk.x!, 'base64url')),
  },
  {
    name: "a token signed with an attacker's key of another algorithm",
    make: (c) => {
      const other = c.algorithm === 'RS256' ? 'ES256' : 'RS256'
      return signWith(
        other,
        attackerKeyPair(other).privateKey,
        { ...c.header, alg: other },
        c.claims,
      )
    },
  },
  {
    name: "a token signed with an attacker's key of the same algorithm",
    make: (c) =>
      c.algorithm === 'HS256'
        ? hmac(c.header, c.claims, 'attacker-secret-that-is-long-enough!!')
        : signWith(c.algorithm, attackerKeyPair(c.algorithm).privateKey, c.header, c.claims),
  },
)

// kid injection: the key id as a path (the key becomes /dev/null's empty content) or as SQL whose
// result the attacker chose, signed with that key.
for (const [kid, secret] of [
  ['../../dev/null', ''],
  ['/dev/null', ''],
  ['../../../../../../../../dev/null', ''],
  ["' OR 1=1 --", 'secret'],
  ["x' UNION SELECT 'attacker' --", 'attacker'],
  ['file:///dev/null', ''],
] as const) {
  cases.push({
    name: `kid ${JSON.stringify(kid)} with an HMAC over ${JSON.stringify(secret)}`,
    make: (c) => hmac({ ...c.header, alg: 'HS256', kid }, c.claims, secret),
  })
}
cases.push(
  {
    name: 'kid as a number',
    make: (c) => hmac({ ...c.header, alg: 'HS256', kid: 1 }, c.claims, ''),
  },
  {
    name: 'kid as an object',
    make: (c) => hmac({ ...c.header, alg: 'HS256', kid: { $ne: null } }, c.claims, ''),
  },
  {
    name: 'kid as an array',
    make: (c) => hmac({ ...c.header, alg: 'HS256', kid: ['a'] }, c.claims, ''),
  },
  {
    name: 'a kid of 3000 characters',
    make: (c) => hmac({ ...c.header, alg: 'HS256', kid: 'k'.repeat(3_000) }, c.claims, ''),
  },
  {
    name: 'an unknown kid signed with the real key',
    only: ASYMMETRIC,
    make: withHeader((h) => (h.kid = 'no-such-key')),
  },
)

// Keys the token brings along (jwk, jku, x5u, x5c; CVE-2018-0114): never trusted.
cases.push(
  {
    name: "a jwk header carrying the attacker's key",
    make: (c) => {
      if (c.algorithm === 'HS256')
        return hmac({ ...c.header, jwk: { kty: 'oct', k: b64('attacker') } }, c.claims, 'attacker')
      const attacker = attackerKeyPair(c.algorithm)
      const { kid: _kid, ...header } = c.header
      return signWith(
        c.algorithm,
        attacker.privateKey,
        { ...header, jwk: attacker.publicKey.export({ format: 'jwk' }) },
        c.claims,
      )
    },
  },
  {
    name: "a jwk header carrying the attacker's key, with the real kid",
    only: ASYMMETRIC,
    make: (c) => {
      const attacker = attackerKeyPair(c.algorithm as Exclude<Algorithm, 'HS256'>)
      return signWith(
        c.algorithm as Exclude<Algorithm, 'HS256'>,
        attacker.privateKey,
        { ...c.header, jwk: attacker.publicKey.export({ format: 'jwk' }) },
        c.claims,
      )
    },
  },
)
for (const extra of [
  { jku: 'https://evil.example/jwks.json', kid: 'evil' },
  { jku: 'http://127.0.0.1:8000/.well-known/jwks.json' },
  { x5u: 'https://evil.example/cert.pem' },
  { x5c: ['MIIBszCCAVmgAwIBAgIUQ2Fub3QgYmUgdHJ1c3RlZA=='] },
]) {
  cases.push({
    name: `a ${Object.keys(extra)[0]} header with the attacker's signature`,
    make: (c) => {
      if (c.algorithm === 'HS256') return hmac({ ...c.header, ...extra }, c.claims, 'attacker')
      return signWith(
        c.algorithm,
        attackerKeyPair(c.algorithm).privateKey,
        { ...c.header, ...extra },
        c.claims,
      )
    },
  })
}

// crit (RFC 7515 §4.1.11): Gatehouse understands no extension, so any critical one is refused.
for (const [name, extra] of [
  ['crit naming a registered claim', { crit: ['exp'] }],
  ['crit naming a header parameter the spec defines', { crit: ['alg'] }],
  [
    'crit naming an unknown extension that is present',
    { crit: ['x-gatehouse'], 'x-gatehouse': true },
  ],
  ['crit naming an unknown extension that is absent', { crit: ['x-gatehouse'] }],
  ['crit with b64 false (RFC 7797)', { crit: ['b64'], b64: false }],
  ['an empty crit list', { crit: [] }],
  ['crit as a string', { crit: 'exp' }],
  ['crit with a number', { crit: [1] }],
] as const) {
  cases.push({ name, make: withHeader((h) => Object.assign(h, extra)) })
}

// Signatures and segments.
cases.push(
  { name: 'a stripped signature (two segments)', make: (c) => segments(c).slice(0, 2).join('.') },
  { name: 'an empty signature', make: (c) => `${segments(c).slice(0, 2).join('.')}.` },
  { name: 'a signature one character short', make: (c) => c.token.slice(0, -1) },
  {
    name: 'a signature cut in half',
    make: (c) => c.token.slice(0, c.token.length - Math.floor(segments(c)[2].length / 2)),
  },
  { name: 'a duplicated signature segment', make: (c) => `${c.token}.${segments(c)[2]}` },
  { name: 'a signature written twice in its segment', make: (c) => `${c.token}${segments(c)[2]}` },
  {
    name: "another real token's signature",
    make: (c) => `${segments(c).slice(0, 2).join('.')}.${c.otherSignature}`,
  },
  { name: 'a signature with base64 padding', make: (c) => `${c.token}==` },
  {
    name: 'a signature in standard base64',
    make: (c) =>
      `${segments(c).slice(0, 2).join('.')}.${Buffer.from(segments(c)[2], 'base64url').toString('base64')}`,
  },
  {
    name: 'a signature in upper case',
    make: (c) => `${segments(c).slice(0, 2).join('.')}.${segments(c)[2].toUpperCase()}`,
  },
  {
    name: 'a space inside the signature',
    make: (c) => `${c.token.slice(0, -4)} ${c.token.slice(-4)}`,
  },
  {
    name: 'a signature of zero bytes of the right length',
    make: (c) =>
      `${segments(c).slice(0, 2).join('.')}.${Buffer.alloc(Buffer.from(segments(c)[2], 'base64url').length).toString('base64url')}`,
  },
  {
    name: 'an ES256 signature in DER instead of R||S',
    only: ['ES256'],
    make: (c) => {
      const raw = Buffer.from(segments(c)[2], 'base64url')
      const der = (n: Buffer) => (n[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), n]) : n)
      const [r, s] = [der(raw.subarray(0, 32)), der(raw.subarray(32))]
      const body = Buffer.concat([Buffer.from([2, r.length]), r, Buffer.from([2, s.length]), s])
      return `${segments(c).slice(0, 2).join('.')}.${Buffer.concat([Buffer.from([0x30, body.length]), body]).toString('base64url')}`
    },
  },
  { name: 'an extra segment', make: (c) => `${c.token}.extra` },
  { name: 'an empty extra segment', make: (c) => `${c.token}.` },
  {
    name: 'five segments, like a JWE',
    make: (c) => `${segments(c)[0]}..${b64('iv')}.${segments(c)[1]}.${b64('tag')}`,
  },
  { name: 'an empty header segment', make: (c) => `.${segments(c)[1]}.${segments(c)[2]}` },
  { name: 'an empty payload segment', make: (c) => `${segments(c)[0]}..${segments(c)[2]}` },
  {
    name: 'a header that is not JSON',
    make: (c) => `${b64('not json')}.${segments(c)[1]}.${segments(c)[2]}`,
  },
  { name: 'a payload that is JSON null', make: (c) => c.resign(c.header, null as unknown as Json) },
  {
    name: 'a payload that is a JSON array',
    make: (c) => c.resign(c.header, [c.claims] as unknown as Json),
  },
  {
    name: 'a payload that is a JSON string',
    make: (c) => c.resign(c.header, 'alice' as unknown as Json),
  },
  {
    name: 'characters outside base64url',
    make: (c) => `${segments(c)[0]}.${segments(c)[1]}!.${segments(c)[2]}`,
  },
  {
    name: 'a newline inside the token',
    make: (c) => `${segments(c)[0]}.\n${segments(c)[1]}.${segments(c)[2]}`,
  },
)

// Tampered claims and header under the original signature.
const tampered = (change: (claims: Json, header: Json) => void) => (c: Context) => {
  const [header, claims] = [structuredClone(c.header), structuredClone(c.claims)]
  change(claims, header)
  return `${b64(header)}.${b64(claims)}.${segments(c)[2]}`
}
cases.push(
  { name: 'sub changed to another user', make: tampered((claims) => (claims.sub = 'bob')) },
  { name: 'sub changed to admin', make: tampered((claims) => (claims.sub = 'admin')) },
  { name: 'scope widened', make: tampered((claims) => (claims.scope = 'me items admin')) },
  {
    name: 'exp pushed a year ahead',
    make: tampered((claims) => (claims.exp = Number(claims.exp) + 365 * 86_400)),
  },
  { name: 'sid changed', make: tampered((claims) => (claims.sid = 'another-session')) },
  { name: 'typ changed in the header', make: tampered((_claims, header) => (header.typ = 'JWT')) },
  { name: 'a claim added', make: tampered((claims) => (claims.admin = true)) },
  {
    name: 'the same claims re-encoded with other whitespace',
    make: (c) => `${segments(c)[0]}.${b64(JSON.stringify(c.claims, null, 1))}.${segments(c)[2]}`,
  },
)

// Claims of the wrong type or at the edges of time, signed with the real key so that only they are wrong.
for (const [claim, values] of [
  [
    'exp',
    [
      ['a string', () => String(now() + 600)],
      ['null', () => null],
      ['an array', () => [now() + 600]],
      ['an object', () => ({})],
      ['true', () => true],
      ['1e308', () => 1e308],
      ['400 days ahead (longer than any token lives)', () => now() + 400 * 86_400],
    ],
  ],
  [
    'nbf',
    [
      ['2 minutes ahead', () => now() + 120],
      ['a float 2 minutes ahead', () => now() + 120.5],
      ['a string', () => String(now() - 60)],
      ['null', () => null],
      ['an array', () => [now() - 60]],
      ['1e308', () => 1e308],
    ],
  ],
  [
    'iat',
    [
      ['a string', () => String(now())],
      ['null', () => null],
      ['an array', () => [now()]],
      ['an object', () => ({})],
      ['an hour ahead', () => now() + 3_600],
      ['1e308', () => 1e308],
    ],
  ],
] as const) {
  for (const [label, value] of values) {
    cases.push({
      name: `${claim} ${label}`,
      make: withClaims((claims) => (claims[claim] = value())),
    })
  }
}
cases.push(
  {
    name: 'exp 31 seconds ago (past the leeway)',
    detail: EXPIRED,
    make: withClaims((claims) => ((claims.exp = now() - 31), (claims.iat = now() - 600))),
  },
  {
    name: 'exp as a float in the past',
    detail: EXPIRED,
    make: withClaims((claims) => ((claims.exp = now() - 100.5), (claims.iat = now() - 600))),
  },
  {
    name: 'exp 0',
    detail: EXPIRED,
    make: withClaims((claims) => ((claims.exp = 0), (claims.iat = 0))),
  },
  {
    name: 'exp negative',
    detail: EXPIRED,
    make: withClaims((claims) => ((claims.exp = -1), (claims.iat = -1_000))),
  },
  // Not a time at all once in milliseconds (-Infinity): refused as invalid rather than expired.
  { name: 'exp -1e308', make: withClaims((claims) => (claims.exp = -1e308)) },
  { name: 'no iat', make: withClaims((claims) => delete claims.iat) },
  { name: 'no exp', make: withClaims((claims) => delete claims.exp) },
  { name: 'sub null', make: withClaims((claims) => (claims.sub = null)) },
  { name: 'sub as an array', make: withClaims((claims) => (claims.sub = ['alice'])) },
  { name: 'sub empty', make: withClaims((claims) => (claims.sub = '')) },
  { name: 'sid as a number', make: withClaims((claims) => (claims.sid = 1)) },
  { name: 'sid empty', make: withClaims((claims) => (claims.sid = '')) },
  {
    name: "sid of bob's session with sub alice",
    make: async (c) => {
      const sessions = await c.t.app.inject({
        method: 'GET',
        url: '/users/me/sessions',
        headers: { authorization: `Bearer ${await c.t.login('bob', 'bob-password')}` },
      })
      const bobSession = sessions.json<Array<{ id: string }>>()[0]!.id
      return withClaims((claims) => (claims.sid = bobSession))(c)
    },
  },
  { name: 'scope as an array', make: withClaims((claims) => (claims.scope = ['me', 'items'])) },
)

// Issuer, audience and type.
cases.push(
  { name: 'another issuer', make: withClaims((claims) => (claims.iss = 'https://evil.example')) },
  {
    name: 'the issuer with a trailing slash',
    make: withClaims((claims) => (claims.iss = `${String(claims.iss)}/`)),
  },
  { name: 'the issuer in an array', make: withClaims((claims) => (claims.iss = [claims.iss])) },
  { name: 'no issuer', make: withClaims((claims) => delete claims.iss) },
  {
    name: 'another audience',
    make: withClaims((claims) => (claims.aud = 'https://other.example')),
  },
  {
    name: 'an audience list without this service',
    make: withClaims((claims) => (claims.aud = ['https://other.example', 'https://third.example'])),
  },
  { name: 'an empty audience list', make: withClaims((claims) => (claims.aud = [])) },
  { name: 'no audience', make: withClaims((claims) => delete claims.aud) },
  { name: 'typ JWT', make: withHeader((header) => (header.typ = 'JWT')) },
  { name: 'typ at+jwt+extra', make: withHeader((header) => (header.typ = 'at+jwtx')) },
  { name: 'typ of an ID token', make: withHeader((header) => (header.typ = 'id+jwt')) },
  { name: 'no typ', make: withHeader((header) => delete header.typ) },
  { name: 'typ as a number', make: withHeader((header) => (header.typ = 1)) },
  { name: 'typ in an array', make: withHeader((header) => (header.typ = ['at+jwt'])) },
)

// amr (RFC 8176) in shapes this service never issues: a second factor cannot be claimed by a malformed value.
cases.push(
  { name: 'amr as a string', make: withClaims((claims) => (claims.amr = 'pwd otp')) },
  { name: 'amr as an object', make: withClaims((claims) => (claims.amr = { 0: 'otp' })) },
  { name: 'amr with a number', make: withClaims((claims) => (claims.amr = ['pwd', 1])) },
  {
    name: 'amr with too many values',
    make: withClaims((claims) => (claims.amr = Array<string>(9).fill('otp'))),
  },
)

// Huge tokens: refused before anything is parsed.
cases.push(
  {
    name: 'a token one character over 4 KiB',
    make: (c) => withClaims((claims) => (claims.pad = 'x'.repeat(4_096)))(c).slice(0, 4_097),
  },
  {
    name: 'a correctly signed token over 4 KiB',
    make: withClaims((claims) => (claims.pad = 'x'.repeat(4_000))),
  },
  { name: 'a token of a megabyte', make: (c) => c.token + 'A'.repeat(1 << 20) },
  {
    name: 'a deeply nested header',
    make: (c) =>
      `${b64('['.repeat(1_500) + ']'.repeat(1_500))}.${segments(c)[1]}.${segments(c)[2]}`,
  },
)

describe.each(ALGORITHMS)('the JWT attack corpus with ALGORITHM=%s', (algorithm) => {
  let context: Context
  beforeAll(async () => {
    context = await setUp(algorithm)
  })
  afterAll(async () => {
    await context.t.close()
  })

  it('accepts the real token (the corpus starts from a valid one)', async () => {
    const response = await context.t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${context.token}` },
    })
    expect(response.statusCode).toBe(200)
    // And from a valid re-signed one: resign() alone does not make a token invalid.
    const resigned = await context.t.app.inject({
      method: 'GET',
      url: '/users/me/',
      headers: { authorization: `Bearer ${context.resign(context.header, context.claims)}` },
    })
    expect(resigned.statusCode).toBe(200)
  })

  it.each(
    cases
      .filter((attack) => !attack.only || attack.only.includes(algorithm))
      .map((attack) => [attack.name, attack] as const),
  )('answers 401 invalid_token for %s', async (_name, attack) => {
    const token = await attack.make(context)
    for (const url of ['/users/me/', '/users/me/items/']) {
      const response = await context.t.app.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${token}` },
      })
      expect(response.statusCode, response.body).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
      expect(response.json()).toEqual({ detail: attack.detail ?? INVALID })
    }
  })

  it('answers 401 invalid_token for the tokens of a removed user, also once the name is taken again', async () => {
    const t = await buildShared({ env: { ALGORITHM: algorithm } })
    try {
      await t.addUser({ username: 'carol', password: 'carol-password' })
      const token = await t.login('carol', 'carol-password')
      await t.store.removeUser('carol')
      const removed = await t.app.inject({
        method: 'GET',
        url: '/users/me/',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(removed.statusCode).toBe(401)
      expect(removed.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
      await t.addUser({ username: 'carol', password: 'new-carol-password' })
      const reborn = await t.app.inject({
        method: 'GET',
        url: '/users/me/',
        headers: { authorization: `Bearer ${token}` },
      })
      expect(reborn.statusCode).toBe(401)
      expect(reborn.json()).toEqual({ detail: INVALID })
    } finally {
      await t.close()
    }
  })
})
