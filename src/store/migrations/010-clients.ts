// Registered OAuth clients (RFC 6749 §2), and the sealed successor of a rotated refresh token, kept
// so that a retry of the same refresh within REFRESH_REUSE_GRACE_SECONDS answers the same token;
// sessions name the client they were opened through (a refresh token is bound to it, RFC 6749 §6).
import type { Migration } from './migration.js'

export const clients: Migration = {
  version: 10,
  name: 'clients',
  sqlite(db) {
    db.exec(`CREATE TABLE gatehouse_clients (
      client_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      confidential INTEGER NOT NULL,
      secret_hash TEXT,
      grants TEXT NOT NULL,
      scopes TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
    ALTER TABLE gatehouse_refresh_tokens ADD COLUMN successor TEXT;
    ALTER TABLE gatehouse_sessions ADD COLUMN client_id TEXT`)
  },
  async postgres(client) {
    await client.query(`CREATE TABLE gatehouse_clients (
      client_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      confidential BOOLEAN NOT NULL,
      secret_hash TEXT,
      grants TEXT NOT NULL,
      scopes TEXT NOT NULL,
      created_at BIGINT NOT NULL
    )`)
    await client.query('ALTER TABLE gatehouse_refresh_tokens ADD COLUMN successor TEXT')
    await client.query('ALTER TABLE gatehouse_sessions ADD COLUMN client_id TEXT')
  },
}
