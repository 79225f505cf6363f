// Sealing secrets for storage: AES-256-GCM under a key derived with HKDF from SECRET_KEY (or a
// dedicated key) and a purpose, so that a database dump alone yields none of them: TOTP seeds, queued
// mail (it carries one-time links), the successor of a rotated refresh token during the reuse grace.
// Associated data binds a sealed value to its row: copied elsewhere, it does not open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

export interface Sealer {
  seal(plain: string, boundTo: string): string
  /** The plain text, or undefined when the value was not sealed by this key for `boundTo`. */
  open(sealed: string, boundTo: string): string | undefined
}

export function createSealer(secret: string, purpose: string): Sealer {
  const key = Buffer.from(hkdfSync('sha256', secret, '', `gatehouse ${purpose}`, 32))
  return {
    seal(plain, boundTo) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(boundTo))
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open(sealed, boundTo) {
      const raw = Buffer.from(sealed, 'base64url')
      if (raw.length < 29) return undefined
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
          .setAAD(Buffer.from(boundTo))
          .setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      } catch {
        // Another key (SECRET_KEY changed) or tampered with: as if nothing had been kept.
        return undefined
      }
    },
  }
}
