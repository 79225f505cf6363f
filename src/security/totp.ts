// TOTP second factors (RFC 6238 over RFC 4226): SHA-1, 6 digits, 30-second steps, what every
// authenticator app accepts. Generates secrets, the `otpauth://` URI and its QR code (SVG, drawn
// here: the secret never goes to an outside service), and checks codes in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'

export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
/** Steps of clock drift accepted either side of the current one (RFC 6238 §5.2 recommends one). */
export const TOTP_DRIFT_STEPS = 1

/** A new secret: 160 random bits (RFC 4226 §4 recommends them), as RFC 4648 base32 without padding. */
export function generateTotpSecret(): string {
  return new Secret({ buffer: randomBytes(20).buffer }).base32
}

/** The time step a moment (epoch ms) falls in. */
export function totpStep(at: number): number {
  return Math.floor(at / 1000 / TOTP_PERIOD_SECONDS)
}

/** The code of a secret at one time step. */
export function totpCode(secret: string, step: number): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: step * TOTP_PERIOD_SECONDS * 1000,
  })
}

/**
 * The time step whose code `code` is, within the drift window around `at`, or undefined. Every
 * candidate is computed and compared in constant time, so the answer's timing says nothing about
 * which one matched or how many digits did. The caller refuses a step already accepted (replay).
 */
export function matchTotp(secret: string, code: string, at: number): number | undefined {
  const given = Buffer.from(code.padEnd(TOTP_DIGITS, '\0').slice(0, 16))
  const current = totpStep(at)
  let matched: number | undefined
  for (let step = current - TOTP_DRIFT_STEPS; step <= current + TOTP_DRIFT_STEPS; step++) {
    const expected = Buffer.from(totpCode(secret, step))
    const equal = given.length === expected.length && timingSafeEqual(given, expected)
    // The latest matching step wins: a code is never accepted at an earlier step than it stands for.
    if (equal) matched = step
  }
  return code.length === TOTP_DIGITS ? matched : undefined
}

/** The `otpauth://totp/...` URI an authenticator app reads (Google's Key Uri Format). */
export function totpUri(secret: string, issuer: string, account: string): string {
  return new TOTP({
    issuer,
    label: account,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString()
}

/** The URI as a QR code, an SVG document drawn on this server. */
export async function qrCodeSvg(text: string): Promise<string> {
  // Loaded at the first enrolment only: 1 MB of heap that the hot path never needs.
  const { default: QRCode } = await import('qrcode')
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
}
