// The SQLite side of ClientStore: registered clients, whose removal ends the sessions opened through
// them in the same transaction.
import type Database from 'better-sqlite3'
import type { ClientStore } from '../contract.js'
import { CLIENT_COLUMNS, toClientRecord, type ClientRow } from '../rows/clients.js'

export function createSqliteClientStore(db: Database.Database): ClientStore {
  const statements = {
    insertClient: db.prepare<
      [string, string, number, string | null, string, string, number, string | null]
    >(`INSERT INTO gatehouse_clients (${CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    client: db.prepare<[string], ClientRow>(
      `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients WHERE client_id = ?`,
    ),
    clients: db.prepare<[], ClientRow>(
      `SELECT ${CLIENT_COLUMNS} FROM gatehouse_clients ORDER BY created_at, client_id`,
    ),
    removeClient: db.prepare<[string]>('DELETE FROM gatehouse_clients WHERE client_id = ?'),
    revokeClientSessions: db.prepare<[number, string]>(
      'UPDATE gatehouse_sessions SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL',
    ),
    setClientSecret: db.prepare<[string, string]>(
      'UPDATE gatehouse_clients SET secret_hash = ? WHERE client_id = ? AND confidential = 1',
    ),
  }

  const removeClient = db.transaction((clientId: string, now: number) => {
    if (statements.removeClient.run(clientId).changes !== 1) return undefined
    return { sessionsEnded: statements.revokeClientSessions.run(now, clientId).changes }
  })

  return {
    async createClient(client) {
      statements.insertClient.run(
        client.clientId,
        client.name,
        client.confidential ? 1 : 0,
        client.secretHash,
        client.grants.join(' '),
        client.scopes.join(' '),
        client.createdAt,
        client.resource,
      )
    },
    async findClient(clientId) {
      const row = statements.client.get(clientId)
      return row && toClientRecord(row)
    },
    async listClients() {
      return statements.clients.all().map(toClientRecord)
    },
    async removeClient(clientId, now) {
      return removeClient(clientId, now)
    },
    async setClientSecret(clientId, secretHash) {
      return statements.setClientSecret.run(secretHash, clientId).changes === 1
    },
  }
}
