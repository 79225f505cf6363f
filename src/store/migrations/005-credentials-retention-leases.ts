// Authorization from live state, and bounded growth. `users.credential_version` changes with every
// credential change (a trigger bumps it whenever `disabled` changes, whoever writes the row, the
// FastAPI app included), so a login can create its session only if what it verified is still current.
// The audit log gains `actor` and may lose rows past the retention, never recent ones; sessions get
// the indexes their pruning needs; `gatehouse_leases` lets one instance of many run periodic jobs.
import { AUDIT_DELETE_FLOOR_MS } from '../contract.js'
import type { Migration } from './migration.js'

export const credentialsRetentionLeases: Migration = {
  version: 5,
  name: 'credential versions, audit actor and retention, session pruning, leases',
  sqlite(db) {
    db.exec(`
      ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
      CREATE TRIGGER gatehouse_users_credential_version AFTER UPDATE OF disabled ON users
        WHEN OLD.disabled IS NOT NEW.disabled
        BEGIN UPDATE users SET credential_version = credential_version + 1 WHERE id = NEW.id; END;

      ALTER TABLE gatehouse_audit ADD COLUMN actor TEXT;
      DROP TRIGGER gatehouse_audit_append_only_delete;
      CREATE TRIGGER gatehouse_audit_retention_delete BEFORE DELETE ON gatehouse_audit
        WHEN OLD.at > CAST(strftime('%s', 'now') AS INTEGER) * 1000 - ${AUDIT_DELETE_FLOOR_MS}
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: recent events cannot be deleted'); END;

      CREATE INDEX gatehouse_sessions_expiry ON gatehouse_sessions (expires_at);
      CREATE INDEX gatehouse_sessions_revoked ON gatehouse_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

      CREATE TABLE gatehouse_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );`)
  },
  async postgres(client) {
    await client.query(`
      ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
      CREATE FUNCTION gatehouse_bump_credential_version() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN NEW.credential_version := NEW.credential_version + 1; RETURN NEW; END $$;
      CREATE TRIGGER gatehouse_users_credential_version BEFORE UPDATE OF disabled ON users
        FOR EACH ROW WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled)
        EXECUTE FUNCTION gatehouse_bump_credential_version();

      ALTER TABLE gatehouse_audit ADD COLUMN actor TEXT;
      DROP TRIGGER gatehouse_audit_append_only ON gatehouse_audit;
      CREATE TRIGGER gatehouse_audit_append_only BEFORE UPDATE OR TRUNCATE ON gatehouse_audit
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only();
      CREATE FUNCTION gatehouse_audit_retention() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF OLD.at > (extract(epoch FROM now()) * 1000)::bigint - ${AUDIT_DELETE_FLOOR_MS} THEN
          RAISE EXCEPTION 'the audit log is append-only: recent events cannot be deleted';
        END IF;
        RETURN OLD;
      END $$;
      CREATE TRIGGER gatehouse_audit_retention BEFORE DELETE ON gatehouse_audit
        FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_retention();

      CREATE INDEX gatehouse_sessions_expiry ON gatehouse_sessions (expires_at);
      CREATE INDEX gatehouse_sessions_revoked ON gatehouse_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

      CREATE TABLE gatehouse_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );`)
  },
}
