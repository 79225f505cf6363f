import { describe, expect, it } from 'vitest'
import { createSealer } from '../../src/security/sealing.js'

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
