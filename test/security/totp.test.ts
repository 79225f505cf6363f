import type { TOTP } from 'otpauth'
import { Secret, URI } from 'otpauth'
import { describe, expect, it } from 'vitest'
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
