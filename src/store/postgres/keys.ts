// The PostgreSQL side of KeyStore: signing keys, added and the others scheduled to retire in one
// transaction, rotations from several processes taking turns.
import type { KeyStore } from '../contract.js'
import { toSigningKey, type KeyRow } from '../rows/keys.js'
import type { Database } from './database.js'

export function createPostgresKeyStore({ query, transaction }: Database): KeyStore {
  return {
    async listSigningKeys(now) {
      const { rows } = await query<KeyRow>(
        'SELECT * FROM gatehouse_signing_keys WHERE retire_at IS NULL OR retire_at > $1 ORDER BY created_at DESC, kid',
        [now],
      )
      return rows.map(toSigningKey)
    },
    async addSigningKey(key, retireOthersAt) {
      await transaction(async (client) => {
        // Rotations from two processes take turns, so the later one also retires the earlier one's key.
        // The mode blocks other writers of the table only, never its readers.
        await client.query('LOCK TABLE gatehouse_signing_keys IN SHARE ROW EXCLUSIVE MODE')
        await client.query(
          'UPDATE gatehouse_signing_keys SET retire_at = $1 WHERE retire_at IS NULL',
          [retireOthersAt],
        )
        await client.query(
          'INSERT INTO gatehouse_signing_keys (kid, algorithm, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)',
          [key.kid, key.algorithm, key.privateKey, key.publicJwk, key.createdAt],
        )
      })
    },
  }
}
