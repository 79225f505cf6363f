// The PostgreSQL side of ClientStore: registered clients, whose removal ends the sessions opened
// through them in the same transaction.
import type { ClientStore } from '../contract.js'
import { CLIENT_COLUMNS, toClientRecord, type ClientRow } from '../rows/clients.js'
import type { Database } from './database.js'

export function createPostgresClientStore({ query, transaction }: Database): ClientStore {
  return {
    async createClient(client) {
      await query(
        `INSERT INTO gatehouse_clients (${CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          client.clientId,
          client.name,
          client.confidential,
          client.secretHash,
          client.grants.join(' '),
          client.scopes.join(' '),
          client.createdAt,
          client.resource,
        ],
      )
    },
    async findClient(clientId) {
      const { rows } = await query<ClientRow>(
        `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients WHERE client_id = $1`,
        [clientId],
      )
      return rows[0] && toClientRecord(rows[0])
    },
    async listClients() {
      const { rows } = await query<ClientRow>(
        `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients ORDER BY created_at, client_id`,
      )
      return rows.map(toClientRecord)
    },
    async removeClient(clientId, now) {
      return transaction(async (client) => {
        const removed = await client.query('DELETE FROM gatehouse_clients WHERE client_id = $1', [
          clientId,
        ])
        if (removed.rowCount !== 1) return undefined
        const ended = await client.query(
          'UPDATE gatehouse_sessions SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL',
          [now, clientId],
        )
        return { sessionsEnded: ended.rowCount ?? 0 }
      })
    },
    async setClientSecret(clientId, secretHash) {
      const { rowCount } = await query(
        'UPDATE gatehouse_clients SET secret_hash = $1 WHERE client_id = $2 AND confidential',
        [secretHash, clientId],
      )
      return rowCount === 1
    },
  }
}
