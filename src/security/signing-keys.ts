// Asymmetric signing keys: generation (RS256: RSA 2048, ES256: P-256, EdDSA: Ed25519), loading a PEM
// file, and the public JWK each publishes, identified by its RFC 7638 thumbprint as `kid`.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { ConfigError } from '../errors.js'
import type { AsymmetricAlgorithm } from './tokens.js'

export interface SigningKeyMaterial {
  kid: string
  algorithm: AsymmetricAlgorithm
  /** PKCS#8 PEM. */
  privateKey: string
  /** SPKI PEM, what verifiers use. */
  publicKey: string
  /** The public JWK with `kid`, `alg` and `use`, as published in the JWKS. */
  publicJwk: JsonWebKey
}

export function generateSigningKey(algorithm: AsymmetricAlgorithm): SigningKeyMaterial {
  const { privateKey } =
    algorithm === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : algorithm === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519')
  return describeKey(privateKey, algorithm)
}

/** A private key from PEM text, checked against the configured algorithm. */
export function signingKeyFromPem(pem: string, algorithm: AsymmetricAlgorithm): SigningKeyMaterial {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    throw new ConfigError('SIGNING_KEY_FILE: not a PEM private key')
  }
  const expected = { RS256: 'rsa', ES256: 'ec', EdDSA: 'ed25519' }[algorithm]
  if (key.asymmetricKeyType !== expected) {
    throw new ConfigError(
      `SIGNING_KEY_FILE: ALGORITHM=${algorithm} needs a ${expected} key, not ${key.asymmetricKeyType ?? 'this key'}`,
    )
  }
  if (algorithm === 'ES256' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new ConfigError('SIGNING_KEY_FILE: ES256 needs a P-256 key')
  return describeKey(key, algorithm)
}

/** Rebuilds the material of a stored private key. */
export function signingKeyFromStored(
  privateKeyPem: string,
  algorithm: AsymmetricAlgorithm,
): SigningKeyMaterial {
  return describeKey(createPrivateKey(privateKeyPem), algorithm)
}

function describeKey(privateKey: KeyObject, algorithm: AsymmetricAlgorithm): SigningKeyMaterial {
  const publicKey = createPublicKey(privateKey)
  const jwk = publicKey.export({ format: 'jwk' })
  const kid = thumbprint(jwk)
  return {
    kid,
    algorithm,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicJwk: { ...jwk, kid, alg: algorithm, use: 'sig' },
  }
}

/** RFC 7638: SHA-256 over the required members in lexicographic order. */
function thumbprint(jwk: JsonWebKey): string {
  const members: Record<string, string[]> = {
    RSA: ['e', 'kty', 'n'],
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
  }
  const required = members[jwk.kty ?? ''] ?? []
  const canonical = JSON.stringify(
    Object.fromEntries(required.map((name) => [name, jwk[name as keyof JsonWebKey]])),
  )
  return createHash('sha256').update(canonical).digest('base64url')
}
