// The registered-client row and its mapping to ClientRecord.
import type { ClientRecord } from '../contract.js'
import { splitScopes } from './scope-list.js'

export interface ClientRow {
  client_id: string
  name: string
  /** SQLite answers 0/1, PostgreSQL a boolean. */
  confidential: number | boolean
  secret_hash: string | null
  grants: string
  scopes: string
  created_at: number
  resource: string | null
}

export const CLIENT_COLUMNS =
  'client_id, name, confidential, secret_hash, grants, scopes, created_at, resource'

export function toClientRecord(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    confidential: Boolean(row.confidential),
    secretHash: row.secret_hash,
    grants: splitScopes(row.grants),
    scopes: splitScopes(row.scopes),
    createdAt: row.created_at,
    resource: row.resource,
  }
}
