// The SQLite side of KeyStore: signing keys, added and the others scheduled to retire in one
// IMMEDIATE transaction.
import type Database from 'better-sqlite3'
import type { KeyStore, SigningKeyRecord } from '../contract.js'
import { toSigningKey, type KeyRow } from '../rows/keys.js'

export function createSqliteKeyStore(db: Database.Database): KeyStore {
  const statements = {
    keys: db.prepare<[number], KeyRow>(
      'SELECT * FROM gatehouse_signing_keys WHERE retire_at IS NULL OR retire_at > ? ORDER BY created_at DESC, kid',
    ),
    retireKeys: db.prepare<[number]>(
      'UPDATE gatehouse_signing_keys SET retire_at = ? WHERE retire_at IS NULL',
    ),
    insertKey: db.prepare<[string, string, string, string, number]>(
      'INSERT INTO gatehouse_signing_keys (kid, algorithm, private_key, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
  }

  const addKey = db.transaction((key: SigningKeyRecord, retireOthersAt: number) => {
    statements.retireKeys.run(retireOthersAt)
    statements.insertKey.run(key.kid, key.algorithm, key.privateKey, key.publicJwk, key.createdAt)
  })

  return {
    async listSigningKeys(now) {
      return statements.keys.all(now).map(toSigningKey)
    },
    async addSigningKey(key, retireOthersAt) {
      addKey.immediate(key, retireOthersAt)
    },
  }
}
