// Secrets kept at rest encrypted (TOTP seeds): AES-256-GCM under a key derived by HKDF-SHA256 from
// the server's SECRET_KEY (or a dedicated key), so that a database dump alone does not yield them.
// The text format is versioned (`v1.<iv>.<tag>.<ciphertext>`, base64url) so the scheme can change later.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

export interface SecretBox {
  seal(plaintext: string, context: string): string
  /** The plaintext, or throws when the box was tampered with, sealed under another key or context. */
  open(sealed: string, context: string): string
}

const INFO = 'gatehouse secret-box v1'

export function createSecretBox(keyMaterial: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', keyMaterial, 'gatehouse', INFO, 32))
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      // The context (e.g. the user id) is authenticated: a sealed secret copied to another row fails.
      cipher.setAAD(Buffer.from(context))
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'))
      return ['v1', ...parts].join('.')
    },
    open(sealed, context) {
      const [version, iv, tag, ciphertext] = sealed.split('.')
      if (version !== 'v1' || !iv || !tag || ciphertext === undefined)
        throw new Error('not a sealed secret')
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
      decipher.setAAD(Buffer.from(context))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8')
    },
  }
}
