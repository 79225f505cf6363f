import type * as FastJwt from 'fast-jwt'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InvalidToken, TokenExpired } from '../../src/errors.js'
import { createTokenService, type TokenKeys } from '../../src/security/tokens.js'

// Every full verification goes through a verifier made by fast-jwt's createVerifier: count them.
const fullVerifications = vi.hoisted(() => ({ count: 0 }))
vi.mock('fast-jwt', async (importOriginal) => {
  const original = await importOriginal<typeof FastJwt>()
  return {
    ...original,
    createVerifier: ((options: Parameters<typeof original.createVerifier>[0]) => {
      const verify = original.createVerifier(options) as (token: string) => unknown
      return (token: string) => {
        fullVerifications.count++
        return verify(token)
      }
    }) as typeof original.createVerifier,
  }
})

const hmac = (secret: string): TokenKeys => ({
  signing: { algorithm: 'HS256', key: secret },
  verifying: [{ algorithm: 'HS256', key: secret }],
})
const service = (keys: TokenKeys, cacheSize?: number) =>
  createTokenService({
    keys,
    issuer: 'https://issuer.test',
    audience: 'api',
    ttlSeconds: 600,
    cacheSize,
  })

afterEach(() => {
  vi.useRealTimers()
  fullVerifications.count = 0
})

describe('token verification cache', () => {
  it('verifies a token fully once, then answers repeats from memory with frozen claims', () => {
    const tokens = service(hmac('a'.repeat(64)))
    const { token } = tokens.issue('alice', 'session-1', ['me'])
    const first = tokens.verify(token)
    const again = tokens.verify(token)
    expect(again).toBe(first)
    expect(first).toMatchObject({ sub: 'alice', sid: 'session-1', scope: ['me'] })
    expect(fullVerifications.count).toBe(1)
    expect(Object.isFrozen(first) && Object.isFrozen(first.scope)).toBe(true)
  })

  it('never answers a remembered token past its exp and the leeway', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const tokens = service(hmac('a'.repeat(64)))
    const { token } = tokens.issue('alice', 'session-1', ['me'])
    tokens.verify(token)
    vi.setSystemTime(Date.now() + (600 + 29) * 1000)
    expect(tokens.verify(token).sub).toBe('alice')
    vi.setSystemTime(Date.now() + 2_000)
    expect(() => tokens.verify(token)).toThrow(TokenExpired)
    expect(fullVerifications.count).toBe(1)
  })

  it('forgets every remembered token when the keys change', () => {
    const tokens = service(hmac('a'.repeat(64)))
    const { token } = tokens.issue('alice', 'session-1', ['me'])
    tokens.verify(token)
    tokens.setKeys(hmac('b'.repeat(64)))
    expect(() => tokens.verify(token)).toThrow(InvalidToken)
  })

  it('remembers a bounded number of tokens, dropping the oldest first', () => {
    const tokens = service(hmac('a'.repeat(64)), 2)
    const [first, second, third] = ['s1', 's2', 's3'].map(
      (sid) => tokens.issue('alice', sid, []).token,
    ) as [string, string, string]
    for (const token of [first, second, third]) tokens.verify(token)
    expect(fullVerifications.count).toBe(3)
    tokens.verify(third)
    tokens.verify(second)
    expect(fullVerifications.count).toBe(3)
    tokens.verify(first)
    expect(fullVerifications.count).toBe(4)
  })

  it('remembers no token that failed verification', () => {
    const tokens = service(hmac('a'.repeat(64)))
    const forged = service(hmac('b'.repeat(64))).issue('alice', 'session-1', ['me']).token
    expect(() => tokens.verify(forged)).toThrow(InvalidToken)
    expect(() => tokens.verify(forged)).toThrow(InvalidToken)
    expect(fullVerifications.count).toBe(2)
  })
})
