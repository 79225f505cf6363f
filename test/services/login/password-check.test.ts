// The one password pipeline (services/login/password-check.ts): what it returns to a caller that creates a
// session or changes a password, legacy bcrypt passwords over 72 bytes, and Unicode normalization of
// usernames and passwords, over POST /token and on the pipeline itself.
import { performance } from 'node:perf_hooks'
import * as argon2 from '@node-rs/argon2'
import * as bcrypt from '@node-rs/bcrypt'
import { Secret, TOTP } from 'otpauth'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { InvalidCredentials } from '../../../src/errors.js'
import { OWASP_ARGON2ID } from '../../../src/security/passwords.js'
import { createTimingFloor } from '../../../src/security/timing-floor.js'
import { createLoginThrottle } from '../../../src/services/throttle/login-throttle.js'
import { createPasswordCheck } from '../../../src/services/login/password-check.js'
import { build, TEST_SECRET, tokenRequest, type TestApp } from '../../helper.js'

const log = pino({ level: 'silent' })

function pipeline(t: TestApp, floorMs = 0) {
  const throttle = createLoginThrottle({
    store: t.store,
    policy: t.config.throttle,
    secret: TEST_SECRET,
    failureMode: 'closed',
    log,
  })
  const floor = createTimingFloor(floorMs)
  return createPasswordCheck({ store: t.store, hasher: t.hasher, floor, throttle, log })
}

const login = async (t: TestApp, username: string, password: string) =>
  (await t.app.inject(tokenRequest({ username, password }))).statusCode

const storedHash = async (t: TestApp, username: string) =>
  (await t.store.findUserByUsername(username))!.hashedPassword

describe('the password pipeline', () => {
  it('returns the user with the hash it verified', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const result = await pipeline(t)('alice', 'alice-password', '203.0.113.1')
    expect(result.user.username).toBe('alice')
    expect(result.verifiedHash).toBe(await storedHash(t, 'alice'))
    expect(result.user.hashedPassword).toBe(result.verifiedHash)
    await expect(pipeline(t)('alice', 'wrong', '203.0.113.1')).rejects.toBeInstanceOf(
      InvalidCredentials,
    )
  })

  it('returns the upgraded hash when it replaced a legacy one', async () => {
    const t = await build()
    const legacy = await bcrypt.hash('bcrypt-password', 4)
    await t.store.createUser({ username: 'johndoe', hashedPassword: legacy })
    const result = await pipeline(t)('johndoe', 'bcrypt-password', '203.0.113.1')
    expect(result.verifiedHash).toMatch(/^\$argon2id\$/)
    expect(result.verifiedHash).toBe(await storedHash(t, 'johndoe'))
    expect(result.user.hashedPassword).toBe(result.verifiedHash)
  })

  it('pads a password with two forms to two floors, for an unknown user as for a real one', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const check = pipeline(t, 150)
    for (const username of ['alice', 'nobody']) {
      const started = performance.now()
      await expect(check(username, 'cafe\u0301-wrong', '203.0.113.1')).rejects.toBeInstanceOf(
        InvalidCredentials,
      )
      expect(performance.now() - started).toBeGreaterThanOrEqual(299)
    }
  })
})

describe('only failures wait for the floor', () => {
  it('answers a correct password once it is verified, a wrong one and an unknown user at the floor', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const check = pipeline(t, 1_000)
    const timed = async (attempt: Promise<unknown>) => {
      const started = performance.now()
      await attempt.catch((error: unknown) => expect(error).toBeInstanceOf(InvalidCredentials))
      return performance.now() - started
    }
    expect(await timed(check('alice', 'alice-password', '203.0.113.1'))).toBeLessThan(500)
    expect(await timed(check('alice', 'wrong-password', '203.0.113.1'))).toBeGreaterThanOrEqual(999)
    expect(await timed(check('nobody', 'wrong-password', '203.0.113.1'))).toBeGreaterThanOrEqual(
      999,
    )
  })

  it('answers a correct login over POST /token without the bcrypt-sized floor of a migrated database', async () => {
    const t = await build({ env: { LOGIN_MIN_DURATION_MS: '1000' } })
    await t.store.createUser({
      username: 'johndoe',
      hashedPassword: await bcrypt.hash('bcrypt-password', 4),
    })
    await t.addUser({ username: 'alice', password: 'alice-password' })
    const timedLogin = async (username: string, password: string) => {
      const started = performance.now()
      const status = await login(t, username, password)
      return { status, ms: performance.now() - started }
    }
    const correct = await timedLogin('alice', 'alice-password')
    expect(correct.status).toBe(200)
    expect(correct.ms).toBeLessThan(500)
    // mfa_required follows a proven password too: it goes out as soon as the mfa_token is made.
    await t.addUser({ username: 'totp', password: 'totp-password' })
    const holder = {
      name: 'totp',
      ip: null,
      userAgent: null,
      userId: (await t.store.findUserByUsername('totp'))!.id,
    }
    const proof = { sessionId: 'none', currentPassword: 'totp-password' }
    const { secret } = await t.services.mfa.startTotp(holder, proof)
    await t.services.mfa.confirmTotp(
      holder,
      proof,
      TOTP.generate({ secret: Secret.fromBase32(secret) }),
    )
    const secondStep = await timedLogin('totp', 'totp-password')
    expect(secondStep.status).toBe(403)
    expect(secondStep.ms).toBeLessThan(500)
    const wrong = await timedLogin('alice', 'wrong-password')
    expect(wrong.status).toBe(401)
    expect(wrong.ms).toBeGreaterThanOrEqual(999)
  })
})

describe('legacy bcrypt passwords longer than 72 bytes', () => {
  it('log in by the first 72 bytes, as passlib hashed them, and from then on need the whole password', async () => {
    const t = await build()
    const password = 'long passphrase '.repeat(7).slice(0, 100)
    expect(Buffer.byteLength(password)).toBe(100)
    await t.store.createUser({
      username: 'legacy',
      hashedPassword: await bcrypt.hash(password.slice(0, 72), 4),
    })
    expect(await login(t, 'legacy', password)).toBe(200)
    expect(await storedHash(t, 'legacy')).toMatch(/^\$argon2id\$/)
    expect(await login(t, 'legacy', password.slice(0, 72))).toBe(401)
    expect(await login(t, 'legacy', password)).toBe(200)
  })
})

describe('Unicode at login', () => {
  const composed = 'caf\u00e9-password'
  const decomposed = 'cafe\u0301-password'

  it('accepts the same password however the keyboard composed it', async () => {
    const t = await build()
    await t.addUser({ username: 'alice', password: decomposed })
    expect(await login(t, 'alice', composed)).toBe(200)
    expect(await login(t, 'alice', decomposed)).toBe(200)
  })

  it('accepts a password hashed as typed before normalization, then upgrades the hash to its NFKC form', async () => {
    const t = await build()
    await t.store.createUser({
      username: 'alice',
      hashedPassword: await argon2.hash(decomposed, { algorithm: 2, ...OWASP_ARGON2ID }),
    })
    expect(await login(t, 'alice', composed)).toBe(401)
    expect(await login(t, 'alice', decomposed)).toBe(200)
    expect(await login(t, 'alice', composed)).toBe(200)
  })

  it('finds a username by its NFKC form, as it was stored', async () => {
    const t = await build()
    await t.addUser({ username: 'ｊｏｅ', password: 'joe-password' })
    expect(await login(t, 'ｊｏｅ', 'joe-password')).toBe(200)
    expect(await login(t, 'joe', 'joe-password')).toBe(200)
  })

  it('still finds a legacy row whose username was stored unnormalized', async () => {
    const t = await build()
    const hashedPassword = await t.hasher.hash('legacy-password')
    await t.store.createUser({ username: 'rene\u0301', hashedPassword })
    expect(await login(t, 'rene\u0301', 'legacy-password')).toBe(200)
  })
})
