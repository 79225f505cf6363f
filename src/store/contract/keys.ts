// The signing-keys part of the contract: the keys tokens are signed with, and their retirement.

export interface SigningKeyRecord {
  kid: string
  algorithm: string
  /** PKCS#8 PEM. */
  privateKey: string
  /** The public key as a JWK (JSON text), as published in the JWKS. */
  publicJwk: string
  createdAt: number
  /** After this moment the key neither signs nor verifies; null while it is current. */
  retireAt: number | null
}

export interface KeyStore {
  /** Keys not yet retired at `now`, newest first. */
  listSigningKeys(now: number): Promise<SigningKeyRecord[]>
  /** Adds a key and schedules every other current key to retire at `retireOthersAt`. */
  addSigningKey(key: SigningKeyRecord, retireOthersAt: number): Promise<void>
}
