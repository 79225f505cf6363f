import { describe, expect, it } from 'vitest'
import { createSealer, deriveKey, macKeys } from '../../src/security/sealing.js'

describe('sealing', () => {
  it('round-trips a secret, with a fresh ciphertext each time', () => {
    const sealer = createSealer('a'.repeat(32), 'totp secrets')
    const sealed = sealer.seal('JBSWY3DPEHPK3PXP', 'user:1')
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP')
    expect(sealer.seal('JBSWY3DPEHPK3PXP', 'user:1')).not.toBe(sealed)
    expect(sealer.open(sealed, 'user:1')).toBe('JBSWY3DPEHPK3PXP')
  })

  it('opens nothing under another key, purpose or binding, nor a tampered or garbled value', () => {
    const sealer = createSealer('a'.repeat(32), 'totp secrets')
    const sealed = sealer.seal('JBSWY3DPEHPK3PXP', 'user:1')
    expect(createSealer('b'.repeat(32), 'totp secrets').open(sealed, 'user:1')).toBeUndefined()
    expect(createSealer('a'.repeat(32), 'mail outbox').open(sealed, 'user:1')).toBeUndefined()
    expect(sealer.open(sealed, 'user:2')).toBeUndefined()
    const bytes = Buffer.from(sealed, 'base64url')
    bytes[bytes.length - 1]! ^= 1
    expect(sealer.open(bytes.toString('base64url'), 'user:1')).toBeUndefined()
    expect(sealer.open('garbage', 'user:1')).toBeUndefined()
  })
})

describe('sealing under SEALING_KEY, with SECRET_KEY as the legacy key', () => {
  const SEALING = 's'.repeat(64)
  const SECRET = 'k'.repeat(64)

  it('seals under SEALING_KEY only, and opens what SECRET_KEY sealed before, marked stale', () => {
    const sealer = createSealer({ current: SEALING, legacy: SECRET }, 'totp secrets')
    const sealed = sealer.seal('JBSWY3DPEHPK3PXP', 'user:1')
    expect(createSealer(SECRET, 'totp secrets').open(sealed, 'user:1')).toBeUndefined()
    expect(createSealer(SEALING, 'totp secrets').open(sealed, 'user:1')).toBe('JBSWY3DPEHPK3PXP')
    expect(sealer.unseal(sealed, 'user:1')).toEqual({ plain: 'JBSWY3DPEHPK3PXP', stale: false })

    const before = createSealer(SECRET, 'totp secrets').seal('OLDSEED', 'user:1')
    expect(sealer.unseal(before, 'user:1')).toEqual({ plain: 'OLDSEED', stale: true })
    expect(sealer.open(before, 'user:2')).toBeUndefined()
  })

  it('without SEALING_KEY seals exactly as before (the legacy derivation from SECRET_KEY)', () => {
    const sealer = createSealer({ current: undefined, legacy: SECRET }, 'mail outbox')
    const sealed = sealer.seal('queued', 'outbox message')
    expect(createSealer(SECRET, 'mail outbox').open(sealed, 'outbox message')).toBe('queued')
    expect(sealer.unseal(sealed, 'outbox message')?.stale).toBe(false)
  })

  it('derives MAC keys per purpose from SEALING_KEY, and the legacy one only beside it', () => {
    const legacy = (secret: string) => `legacy:${secret}`
    const without = macKeys({ current: undefined, legacy: SECRET }, 'throttle counters', legacy)
    expect(without).toEqual({ current: `legacy:${SECRET}`, legacy: undefined })
    const withKey = macKeys({ current: SEALING, legacy: SECRET }, 'throttle counters', legacy)
    expect(withKey.legacy).toBe(`legacy:${SECRET}`)
    expect(withKey.current).toEqual(deriveKey(SEALING, 'throttle counters'))
    expect(withKey.current).not.toEqual(deriveKey(SEALING, 'recovery codes'))
    expect(withKey.current).not.toEqual(deriveKey(SECRET, 'throttle counters'))
  })
})
