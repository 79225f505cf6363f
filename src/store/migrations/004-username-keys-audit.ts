// Usernames compared as people read them: `username_key` holds the NFKC, lower-cased form, unique, so
// "Alice" and "ａｌｉｃｅ" cannot both exist. Existing rows are backfilled; if legacy data already holds
// such look-alikes, the index is created non-unique and they stay as they are. Plus the append-only
// audit log of security events.
import type { Migration } from './migration.js'
import { usernameKey } from '../username-key.js'

export const usernameKeysAudit: Migration = {
  version: 4,
  name: 'username keys and audit log',
  sqlite(db) {
    db.exec('ALTER TABLE users ADD COLUMN username_key TEXT')
    const setKey = db.prepare<[string, number]>('UPDATE users SET username_key = ? WHERE id = ?')
    for (const row of db
      .prepare<[], { id: number; username: string | null }>('SELECT id, username FROM users')
      .all()) {
      if (row.username !== null) setKey.run(usernameKey(row.username), row.id)
    }
    const duplicates = db
      .prepare(
        'SELECT 1 FROM users WHERE username_key IS NOT NULL GROUP BY username_key HAVING COUNT(*) > 1 LIMIT 1',
      )
      .get()
    db.exec(
      `CREATE ${duplicates ? '' : 'UNIQUE '}INDEX gatehouse_users_username_key ON users (username_key)`,
    )
    db.exec(`
      CREATE TABLE gatehouse_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        outcome TEXT NOT NULL,
        username TEXT,
        ip TEXT,
        user_agent TEXT,
        detail TEXT
      );
      CREATE INDEX gatehouse_audit_at ON gatehouse_audit (at);
      CREATE TRIGGER gatehouse_audit_append_only_update BEFORE UPDATE ON gatehouse_audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER gatehouse_audit_append_only_delete BEFORE DELETE ON gatehouse_audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`)
  },
  async postgres(client) {
    await client.query('ALTER TABLE users ADD COLUMN username_key TEXT')
    const { rows } = await client.query<{ id: number; username: string | null }>(
      'SELECT id, username FROM users',
    )
    for (const row of rows) {
      if (row.username !== null)
        await client.query('UPDATE users SET username_key = $1 WHERE id = $2', [
          usernameKey(row.username),
          row.id,
        ])
    }
    const duplicates = await client.query(
      'SELECT 1 FROM users WHERE username_key IS NOT NULL GROUP BY username_key HAVING COUNT(*) > 1 LIMIT 1',
    )
    await client.query(
      `CREATE ${duplicates.rowCount ? '' : 'UNIQUE '}INDEX gatehouse_users_username_key ON users (username_key)`,
    )
    await client.query(`
      CREATE TABLE gatehouse_audit (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        type TEXT NOT NULL,
        outcome TEXT NOT NULL,
        username TEXT,
        ip TEXT,
        user_agent TEXT,
        detail TEXT
      );
      CREATE INDEX gatehouse_audit_at ON gatehouse_audit (at);
      CREATE FUNCTION gatehouse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
      CREATE TRIGGER gatehouse_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON gatehouse_audit
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only();`)
  },
}
