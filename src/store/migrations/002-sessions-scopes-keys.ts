// Token lifecycle storage: granted scopes per user (NULL means the configured defaults), sessions
// (one per login, the "family" of its refresh tokens), every refresh token ever issued (by hash
// only, kept after rotation so that reuse can be detected), and the signing keys of asymmetric algorithms.
// Times are epoch milliseconds (BIGINT on PostgreSQL).
import type { Migration } from './migration.js'

export const sessionsScopesKeys: Migration = {
  version: 2,
  name: 'sessions, refresh tokens, scopes and signing keys',
  sqlite(db) {
    db.exec(`
      ALTER TABLE users ADD COLUMN scopes TEXT;
      CREATE TABLE gatehouse_sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER,
        user_agent TEXT,
        ip TEXT
      );
      CREATE INDEX gatehouse_sessions_user ON gatehouse_sessions (user_id);
      CREATE TABLE gatehouse_refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES gatehouse_sessions (id) ON DELETE CASCADE,
        issued_at INTEGER NOT NULL,
        spent_at INTEGER
      );
      CREATE INDEX gatehouse_refresh_tokens_session ON gatehouse_refresh_tokens (session_id);
      CREATE TABLE gatehouse_signing_keys (
        kid TEXT PRIMARY KEY,
        algorithm TEXT NOT NULL,
        private_key TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        retire_at INTEGER
      );`)
  },
  async postgres(client) {
    await client.query(`
      ALTER TABLE users ADD COLUMN IF NOT EXISTS scopes TEXT;
      CREATE TABLE gatehouse_sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked_at BIGINT,
        user_agent TEXT,
        ip TEXT
      );
      CREATE INDEX gatehouse_sessions_user ON gatehouse_sessions (user_id);
      CREATE TABLE gatehouse_refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES gatehouse_sessions (id) ON DELETE CASCADE,
        issued_at BIGINT NOT NULL,
        spent_at BIGINT
      );
      CREATE INDEX gatehouse_refresh_tokens_session ON gatehouse_refresh_tokens (session_id);
      CREATE TABLE gatehouse_signing_keys (
        kid TEXT PRIMARY KEY,
        algorithm TEXT NOT NULL,
        private_key TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        retire_at BIGINT
      );`)
  },
}
