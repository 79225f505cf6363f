// Second factors: a user's TOTP factor (its secret sealed by the services, pending until confirmed,
// with the last accepted time step so that a code is never accepted twice), single-use recovery codes
// (hashed), the short-lived `mfa_token`s that carry a verified password to the second step (hashed),
// and the `amr` of each session, so that refreshed tokens still say how their login was made.
import type { Migration } from './migration.js'

const tables = (bigint: string) => `
  CREATE TABLE gatehouse_totp (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at ${bigint} NOT NULL,
    confirmed_at ${bigint},
    last_step ${bigint}
  );
  CREATE TABLE gatehouse_recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at ${bigint},
    PRIMARY KEY (user_id, code_hash)
  );
  CREATE TABLE gatehouse_mfa_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT,
    scope TEXT,
    password_digest TEXT NOT NULL,
    credential_version INTEGER NOT NULL,
    created_at ${bigint} NOT NULL,
    expires_at ${bigint} NOT NULL,
    spent_at ${bigint}
  );
  CREATE INDEX gatehouse_mfa_tokens_expiry ON gatehouse_mfa_tokens (expires_at);
  ALTER TABLE gatehouse_sessions ADD COLUMN amr TEXT;`

export const mfa: Migration = {
  version: 8,
  name: 'TOTP factors, recovery codes, mfa tokens, session amr',
  sqlite(db) {
    db.exec(tables('INTEGER'))
  },
  async postgres(client) {
    await client.query(tables('BIGINT'))
  },
}
