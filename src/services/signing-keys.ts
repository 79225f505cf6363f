// The key set behind access tokens. HMAC algorithms use SECRET_KEY and publish nothing. Asymmetric
// ones use SIGNING_KEY_FILE, or keys generated on first start and kept in the database, so that
// every instance signs with the newest key and still verifies the older ones until their tokens
// have expired (`gatehouse keys rotate`).
import type { JsonWebKey } from 'node:crypto'
import { InvalidInput } from '../errors.js'
import {
  generateSigningKey,
  signingKeyFromPem,
  signingKeyFromStored,
  type SigningKeyMaterial,
} from '../security/signing-keys.js'
import {
  CLOCK_LEEWAY_SECONDS,
  HMAC_ALGORITHMS,
  type AsymmetricAlgorithm,
  type SigningAlgorithm,
  type TokenKeys,
} from '../security/tokens.js'
import type { KeyStore } from '../store/index.js'

export interface KeyManager {
  current(): TokenKeys
  /** The public keys to publish at /.well-known/jwks.json. */
  jwks(): { keys: JsonWebKey[] }
  /** Re-reads the key set from the database (at most once a second); true when it changed. */
  reload(): Promise<boolean>
  /** Adds a new signing key; the others retire once the tokens they signed have expired. Returns its kid. */
  rotate(): Promise<string>
}

export interface KeyManagerOptions {
  algorithm: SigningAlgorithm
  secretKey: string
  signingKeyPem: string | undefined
  store: KeyStore
  accessTokenTtlSeconds: number
}

const RELOAD_INTERVAL_MS = 1_000

export async function createKeyManager(options: KeyManagerOptions): Promise<KeyManager> {
  const { algorithm, store } = options
  if (HMAC_ALGORITHMS.includes(algorithm as never)) {
    const secret = { algorithm, key: options.secretKey }
    return {
      current: () => ({ signing: secret, verifying: [secret] }),
      jwks: () => ({ keys: [] }),
      reload: async () => false,
      rotate: () =>
        Promise.reject(
          new InvalidInput(`${algorithm} signs with SECRET_KEY: rotate it by changing SECRET_KEY`),
        ),
    }
  }
  const asymmetric = algorithm as AsymmetricAlgorithm
  if (options.signingKeyPem) {
    const key = signingKeyFromPem(options.signingKeyPem, asymmetric)
    return {
      current: () => toTokenKeys([key]),
      jwks: () => ({ keys: [key.publicJwk] }),
      reload: async () => false,
      rotate: () =>
        Promise.reject(
          new InvalidInput(
            'the signing key comes from SIGNING_KEY_FILE: rotate it by replacing the file',
          ),
        ),
    }
  }

  let keys: SigningKeyMaterial[] = []
  let reloadedAt = 0
  const load = async (): Promise<boolean> => {
    const stored = (await store.listSigningKeys(Date.now())).filter(
      (key) => key.algorithm === algorithm,
    )
    const fresh = stored.map((key) => signingKeyFromStored(key.privateKey, asymmetric))
    const changed = fresh.map((key) => key.kid).join() !== keys.map((key) => key.kid).join()
    keys = fresh
    return changed
  }
  const add = async (): Promise<string> => {
    const key = generateSigningKey(asymmetric)
    const createdAt = Date.now()
    // Keys signing until now stay valid for verification until their last tokens expire.
    const retireOthersAt = createdAt + (options.accessTokenTtlSeconds + CLOCK_LEEWAY_SECONDS) * 1000
    await store.addSigningKey(
      {
        kid: key.kid,
        algorithm,
        privateKey: key.privateKey,
        publicJwk: JSON.stringify(key.publicJwk),
        createdAt,
        retireAt: null,
      },
      retireOthersAt,
    )
    await load()
    return key.kid
  }

  await load()
  if (keys.length === 0) await add()
  return {
    current: () => toTokenKeys(keys),
    jwks: () => ({ keys: keys.map((key) => key.publicJwk) }),
    // Tokens can name any kid: reading the database for them is rate-limited.
    reload: async () => {
      if (Date.now() - reloadedAt < RELOAD_INTERVAL_MS) return false
      reloadedAt = Date.now()
      return load()
    },
    rotate: add,
  }
}

function toTokenKeys(keys: SigningKeyMaterial[]): TokenKeys {
  const [newest] = keys
  if (!newest) throw new Error('no signing key')
  return {
    signing: { kid: newest.kid, algorithm: newest.algorithm, key: newest.privateKey },
    verifying: keys.map((key) => ({ kid: key.kid, algorithm: key.algorithm, key: key.publicKey })),
  }
}
