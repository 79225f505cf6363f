// Account recovery by e-mail. `users.email_verified` is nullable on purpose: NULL means Gatehouse never
// asked this address to be verified (rows from before this version, rows the FastAPI app writes, users
// imported from it), which counts as verified; Gatehouse writes FALSE for an address it sent a link to
// and TRUE once that link is followed. One-time tokens are stored as hashes only, with what voids them
// (`binding`); the outbox holds mail until one instance has sent it (see services/mail/mail.ts).
import type { Migration } from './migration.js'

export const mail: Migration = {
  version: 7,
  name: 'e-mail verification, one-time tokens, mail outbox',
  sqlite(db) {
    db.exec(`
      ALTER TABLE users ADD COLUMN email_verified INTEGER;

      CREATE TABLE gatehouse_one_time_tokens (
        token_hash TEXT PRIMARY KEY,
        purpose TEXT NOT NULL CHECK (purpose IN ('reset', 'verify')),
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        binding TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      );
      CREATE INDEX gatehouse_one_time_tokens_user ON gatehouse_one_time_tokens (user_id, purpose);
      CREATE INDEX gatehouse_one_time_tokens_expiry ON gatehouse_one_time_tokens (expires_at);

      CREATE TABLE gatehouse_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        payload TEXT,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER,
        failed_at INTEGER,
        last_error TEXT
      );
      CREATE INDEX gatehouse_outbox_due ON gatehouse_outbox (next_attempt_at)
        WHERE sent_at IS NULL AND failed_at IS NULL;`)
  },
  async postgres(client) {
    await client.query(`
      ALTER TABLE users ADD COLUMN email_verified BOOLEAN;

      CREATE TABLE gatehouse_one_time_tokens (
        token_hash TEXT PRIMARY KEY,
        purpose TEXT NOT NULL CHECK (purpose IN ('reset', 'verify')),
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        binding TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      );
      CREATE INDEX gatehouse_one_time_tokens_user ON gatehouse_one_time_tokens (user_id, purpose);
      CREATE INDEX gatehouse_one_time_tokens_expiry ON gatehouse_one_time_tokens (expires_at);

      CREATE TABLE gatehouse_outbox (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT,
        created_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        sent_at BIGINT,
        failed_at BIGINT,
        last_error TEXT
      );
      CREATE INDEX gatehouse_outbox_due ON gatehouse_outbox (next_attempt_at)
        WHERE sent_at IS NULL AND failed_at IS NULL;`)
  },
}
