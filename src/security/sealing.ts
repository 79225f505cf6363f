// Sealing secrets for storage: AES-256-GCM under a key derived with HKDF from SEALING_KEY (or a
// dedicated key) and a purpose, so that a database dump alone yields none of them: TOTP seeds, queued
// mail (it carries one-time links), the successor of a rotated refresh token during the reuse grace.
// Associated data binds a sealed value to its row: copied elsewhere, it does not open. Values sealed
// before SEALING_KEY existed (under the same derivation from SECRET_KEY) still open, marked stale.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/**
 * The secrets sealing keys are derived from. `current` is SEALING_KEY: everything new is sealed under
 * it. `legacy` is what Gatehouse sealed under before SEALING_KEY (SECRET_KEY, or MFA_ENCRYPTION_KEY):
 * only opened when `current` is set, sealed under when it is not (today's derivation, unchanged).
 */
export interface SealingKeys {
  current: string | undefined
  legacy: string
}

export interface Sealer {
  seal(plain: string, boundTo: string): string
  /** The plain text, or undefined when the value was not sealed by these keys for `boundTo`. */
  open(sealed: string, boundTo: string): string | undefined
  /** Like open, and says whether the value was sealed under the legacy key (seal it again). */
  unseal(sealed: string, boundTo: string): { plain: string; stale: boolean } | undefined
}

/** A key of 32 bytes for `purpose`, independent of the keys derived for other purposes. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, '', `gatehouse ${purpose}`, 32))
}

/**
 * MAC keys for `purpose`: the one to compute with now and, when SEALING_KEY is set, the legacy one
 * that values computed before it were made with (`legacyKey` says how today's code derived it).
 */
export function macKeys(
  keys: SealingKeys,
  purpose: string,
  legacyKey: (legacy: string) => Buffer | string,
): { current: Buffer | string; legacy: Buffer | string | undefined } {
  if (keys.current === undefined) return { current: legacyKey(keys.legacy), legacy: undefined }
  return { current: deriveKey(keys.current, purpose), legacy: legacyKey(keys.legacy) }
}

export function createSealer(keys: SealingKeys | string, purpose: string): Sealer {
  const { current, legacy } = typeof keys === 'string' ? { current: undefined, legacy: keys } : keys
  const sealingKey = deriveKey(current ?? legacy, purpose)
  const legacyKey = current === undefined ? undefined : deriveKey(legacy, purpose)
  const unseal = (sealed: string, boundTo: string) => {
    const plain = openWith(sealingKey, sealed, boundTo)
    if (plain !== undefined) return { plain, stale: false }
    const old = legacyKey && openWith(legacyKey, sealed, boundTo)
    return old === undefined ? undefined : { plain: old, stale: true }
  }
  return {
    seal(plain, boundTo) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', sealingKey, iv).setAAD(Buffer.from(boundTo))
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open: (sealed, boundTo) => unseal(sealed, boundTo)?.plain,
    unseal,
  }
}

function openWith(key: Buffer, sealed: string, boundTo: string): string | undefined {
  const raw = Buffer.from(sealed, 'base64url')
  if (raw.length < 29) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
      .setAAD(Buffer.from(boundTo))
      .setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
  } catch {
    // Another key (SEALING_KEY changed) or tampered with: as if nothing had been kept.
    return undefined
  }
}
