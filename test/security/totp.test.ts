import type { TOTP } from 'otpauth'
import { Secret, URI } from 'otpauth'
import { describe, expect, it } from 'vitest'
import { createSecretBox } from '../../src/security/secret-box.js'
import {
  generateTotpSecret,
  matchTotp,
  qrCodeSvg,
  totpCode,
  totpStep,
  totpUri,
} from '../../src/security/totp.js'

// RFC 6238 Appendix B, SHA-1: the secret is ASCII "12345678901234567890".
const RFC_SECRET = Secret.fromLatin1('12345678901234567890').base32

describe('TOTP', () => {
  it('computes the RFC 6238 test vectors (last six digits)', () => {
    expect(totpCode(RFC_SECRET, totpStep(59_000))).toBe('287082')
    expect(totpCode(RFC_SECRET, totpStep(1_111_111_109_000))).toBe('081804')
    expect(totpCode(RFC_SECRET, totpStep(2_000_000_000_000))).toBe('279037')
  })

  it('accepts the current step and one step of drift either side, and says which step matched', () => {
    const secret = generateTotpSecret()
    const now = Date.now()
    const step = totpStep(now)
    expect(matchTotp(secret, totpCode(secret, step), now)).toBe(step)
    expect(matchTotp(secret, totpCode(secret, step - 1), now)).toBe(step - 1)
    expect(matchTotp(secret, totpCode(secret, step + 1), now)).toBe(step + 1)
    expect(matchTotp(secret, totpCode(secret, step - 2), now)).toBeUndefined()
    expect(matchTotp(secret, totpCode(secret, step + 2), now)).toBeUndefined()
  })

  it('refuses malformed codes', () => {
    const secret = generateTotpSecret()
    const now = Date.now()
    const code = totpCode(secret, totpStep(now))
    for (const bad of ['', code.slice(0, 5), `${code}0`, ' '.repeat(6), 'x'.repeat(10_000)])
      expect(matchTotp(secret, bad, now)).toBeUndefined()
  })

  it('generates distinct 160-bit base32 secrets that authenticator libraries read', () => {
    const secret = generateTotpSecret()
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(generateTotpSecret()).not.toBe(secret)
    const uri = totpUri(secret, 'Gatehouse', 'alice')
    expect(uri).toMatch(/^otpauth:\/\/totp\/Gatehouse:alice\?/)
    const parsed = URI.parse(uri) as TOTP
    expect(parsed.secret.base32).toBe(secret)
    expect(parsed.digits).toBe(6)
    expect(parsed.period).toBe(30)
    expect(parsed.algorithm).toBe('SHA1')
  })

  it('draws the QR code as an SVG document', async () => {
    const svg = await qrCodeSvg(totpUri(generateTotpSecret(), 'Gatehouse', 'alice'))
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(svg).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/)
  })
})

describe('secret box', () => {
  it('round-trips a secret, with a fresh ciphertext each time', () => {
    const box = createSecretBox('a'.repeat(32))
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'user:1')
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP')
    expect(box.seal('JBSWY3DPEHPK3PXP', 'user:1')).not.toBe(sealed)
    expect(box.open(sealed, 'user:1')).toBe('JBSWY3DPEHPK3PXP')
  })

  it('refuses another key, another context, or a tampered box', () => {
    const box = createSecretBox('a'.repeat(32))
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'user:1')
    expect(() => createSecretBox('b'.repeat(32)).open(sealed, 'user:1')).toThrow()
    expect(() => box.open(sealed, 'user:2')).toThrow()
    const parts = sealed.split('.')
    const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`
    expect(() => box.open([...parts.slice(0, 3), flipped].join('.'), 'user:1')).toThrow()
    expect(() => box.open('garbage', 'user:1')).toThrow()
  })
})
