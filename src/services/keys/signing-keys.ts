// The key set behind access tokens. HMAC algorithms use SECRET_KEY and publish nothing. Asymmetric
// ones use SIGNING_KEY_FILE, or keys generated on first start and kept in the database, so that
// every instance signs with the newest key and still verifies the older ones until their tokens
// have expired (`gatehouse keys rotate`, audited here with whoever rotated).
import type { JsonWebKey } from 'node:crypto'
import { InvalidInput } from '../../errors.js'
import {
  generateSigningKey,
  signingKeyFromPem,
  signingKeyFromStored,
  type SigningKeyMaterial,
} from '../../security/signing-keys.js'
import {
  CLOCK_LEEWAY_SECONDS,
  HMAC_ALGORITHMS,
  type AsymmetricAlgorithm,
  type SigningAlgorithm,
  type TokenKeys,
} from '../../security/tokens.js'
import type { KeyStore } from '../../store/contract.js'
import { auditEvent } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { Actor } from '../shared/actor.js'

export interface KeyManager {
  current(): TokenKeys
  /** The public keys to publish at /.well-known/jwks.json. */
  jwks(): { keys: JsonWebKey[] }
  /** Re-reads the key set from the database (at most once a second); true when it changed. */
  reload(): Promise<boolean>
  /**
   * Adds a new signing key, recorded as done by `actor`; the others retire once the tokens they
   * signed have expired. Returns its kid.
   */
  rotate(actor: Actor): Promise<string>
  /** Re-reads the key set every KEY_RELOAD_INTERVAL_MS (keys rotated by another process); returns stop. */
  reloadPeriodically(onError: (error: unknown) => void): () => void
}

export interface KeyManagerOptions {
  algorithm: SigningAlgorithm
  secretKey: string
  signingKeyPem: string | undefined
  store: KeyStore
  accessTokenTtlSeconds: number
  /** Rotations are recorded here. */
  events: SecurityEvents
  /** Told the new key set whenever a reload or a rotation changed it. */
  onChange?: (keys: TokenKeys) => void
}

/** At most one reload a second: tokens can name any kid, and each unknown one asks for a reload. */
const RELOAD_INTERVAL_MS = 1_000
/** Every instance re-reads the key set this often, and at once on a token with an unknown `kid`. */
export const KEY_RELOAD_INTERVAL_MS = 60_000

const noPeriodicReload = (): (() => void) => () => undefined

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
      reloadPeriodically: noPeriodicReload,
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
      reloadPeriodically: noPeriodicReload,
    }
  }

  let keys: SigningKeyMaterial[] = []
  let reloadedAt = 0
  let created = false
  const load = async (): Promise<boolean> => {
    const stored = (await store.listSigningKeys(Date.now())).filter(
      (key) => key.algorithm === algorithm,
    )
    const fresh = stored.map((key) => signingKeyFromStored(key.privateKey, asymmetric))
    const changed = fresh.map((key) => key.kid).join() !== keys.map((key) => key.kid).join()
    keys = fresh
    // Not during creation: the caller builds its token service from current() afterwards.
    if (changed && created) options.onChange?.(toTokenKeys(keys))
    return changed
  }
  const add = async (): Promise<string> => {
    const key = generateSigningKey(asymmetric)
    const createdAt = Date.now()
    // Keys signing until now stay valid for verification until their last tokens expire. Other
    // instances keep signing with the old key until their next reload: those tokens count too.
    const lastOldToken = createdAt + KEY_RELOAD_INTERVAL_MS
    const retireOthersAt =
      lastOldToken + (options.accessTokenTtlSeconds + CLOCK_LEEWAY_SECONDS) * 1000
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
  created = true
  return {
    current: () => toTokenKeys(keys),
    jwks: () => ({ keys: keys.map((key) => key.publicJwk) }),
    // Tokens can name any kid: reading the database for them is rate-limited.
    reload: async () => {
      if (Date.now() - reloadedAt < RELOAD_INTERVAL_MS) return false
      reloadedAt = Date.now()
      return load()
    },
    async rotate(actor) {
      const kid = await add()
      await options.events(auditEvent.signingKeyRotated(actor, kid))
      return kid
    },
    reloadPeriodically(onError) {
      const timer = setInterval(() => void load().catch(onError), KEY_RELOAD_INTERVAL_MS)
      timer.unref()
      return () => clearInterval(timer)
    },
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
