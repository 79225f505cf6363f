// The change feed: one row per change that ends or alters what a bearer token may do (a session
// ended, a user's sessions all ended, a user changed or removed), written by triggers, so that changes
// made by the CLI, another instance or the FastAPI app are seen too. Instances read it to invalidate
// what they keep in memory; revocation events are published from it. On PostgreSQL each writing
// statement also notifies channel `gatehouse_changes` (payload: the schema), delivered at commit.
// A partial index answers "is any bcrypt hash left?" (the login timing floor) without a scan.
import type { Migration } from './migration.js'

/** The LISTEN/NOTIFY channel; the payload is the schema whose feed changed. */
export const CHANGE_CHANNEL = 'gatehouse_changes'

/** The columns whose change alters a token owner (what findTokenOwner reads) or their password. */
const USER_FIELDS = ['username', 'email', 'full_name', 'hashed_password', 'disabled', 'scopes']
const changedWhen = (distinct: string): string =>
  USER_FIELDS.map((field) => `OLD.${field} ${distinct} NEW.${field}`).join(' OR ')

const SQLITE_NOW = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`
const POSTGRES_NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`

export const changeFeed: Migration = {
  version: 9,
  name: 'change feed',
  sqlite(db) {
    // AUTOINCREMENT: an id is never reused once pruned, so a reader's cursor never skips a new change.
    db.exec(`
      CREATE TABLE gatehouse_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        user_id INTEGER,
        username TEXT,
        session_id TEXT
      );
      CREATE INDEX gatehouse_changes_at ON gatehouse_changes (at);
      CREATE INDEX gatehouse_users_bcrypt ON users (id) WHERE hashed_password LIKE '$2%';

      CREATE TRIGGER gatehouse_users_changed AFTER UPDATE ON users WHEN ${changedWhen('IS NOT')}
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, username)
          VALUES (${SQLITE_NOW}, 'user_changed', NEW.id, NEW.username); END;
      CREATE TRIGGER gatehouse_users_removed AFTER DELETE ON users
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, username)
          VALUES (${SQLITE_NOW}, 'user_removed', OLD.id, OLD.username); END;
      CREATE TRIGGER gatehouse_sessions_revoked AFTER UPDATE OF revoked_at ON gatehouse_sessions
        WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND NEW.expires_at > ${SQLITE_NOW}
        BEGIN
          INSERT INTO gatehouse_changes (at, kind, user_id, session_id)
            VALUES (${SQLITE_NOW}, 'session_ended', NEW.user_id, NEW.id);
          INSERT INTO gatehouse_changes (at, kind, user_id)
            SELECT ${SQLITE_NOW}, 'user_sessions_ended', NEW.user_id WHERE NOT EXISTS (
              SELECT 1 FROM gatehouse_sessions WHERE user_id = NEW.user_id AND revoked_at IS NULL
                AND expires_at > ${SQLITE_NOW});
        END;
      CREATE TRIGGER gatehouse_sessions_deleted AFTER DELETE ON gatehouse_sessions
        WHEN OLD.revoked_at IS NULL AND OLD.expires_at > ${SQLITE_NOW}
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, session_id)
          VALUES (${SQLITE_NOW}, 'session_ended', OLD.user_id, OLD.id); END;`)
  },
  async postgres(client) {
    await client.query(`
      CREATE TABLE gatehouse_changes (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        user_id INTEGER,
        username TEXT,
        session_id TEXT
      );
      CREATE INDEX gatehouse_changes_at ON gatehouse_changes (at);
      CREATE INDEX gatehouse_users_bcrypt ON users (id) WHERE hashed_password LIKE '$2%';

      CREATE FUNCTION gatehouse_user_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN
        IF TG_OP = 'DELETE' THEN
          INSERT INTO gatehouse_changes (at, kind, user_id, username)
            VALUES (${POSTGRES_NOW}, 'user_removed', OLD.id, OLD.username);
          RETURN OLD;
        END IF;
        INSERT INTO gatehouse_changes (at, kind, user_id, username)
          VALUES (${POSTGRES_NOW}, 'user_changed', NEW.id, NEW.username);
        RETURN NEW;
      END $$;
      CREATE TRIGGER gatehouse_users_changed AFTER UPDATE ON users
        FOR EACH ROW WHEN (${changedWhen('IS DISTINCT FROM')}) EXECUTE FUNCTION gatehouse_user_change();
      CREATE TRIGGER gatehouse_users_removed AFTER DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION gatehouse_user_change();

      -- The functions name tables as the schema the migration ran in (SET search_path FROM CURRENT):
      -- a program writing with schema-qualified names and another search_path fires them too.
      -- One statement may end many sessions (a logout everywhere): transition tables give them all at
      -- once, so "every session of the user ended" is said once per user, after the last one.
      CREATE FUNCTION gatehouse_sessions_revoked() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE now_ms BIGINT := ${POSTGRES_NOW};
      BEGIN
        WITH ended AS (
          SELECT n.id, n.user_id FROM gatehouse_new_sessions n JOIN gatehouse_old_sessions o ON o.id = n.id
          WHERE o.revoked_at IS NULL AND n.revoked_at IS NOT NULL AND n.expires_at > now_ms)
        INSERT INTO gatehouse_changes (at, kind, user_id, session_id)
          SELECT now_ms, 'session_ended', user_id, id FROM ended
          UNION ALL
          SELECT DISTINCT now_ms, 'user_sessions_ended', e.user_id, NULL::text FROM ended e
            WHERE NOT EXISTS (SELECT 1 FROM gatehouse_sessions s WHERE s.user_id = e.user_id
              AND s.revoked_at IS NULL AND s.expires_at > now_ms);
        RETURN NULL;
      END $$;
      CREATE TRIGGER gatehouse_sessions_revoked AFTER UPDATE ON gatehouse_sessions
        REFERENCING OLD TABLE AS gatehouse_old_sessions NEW TABLE AS gatehouse_new_sessions
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_sessions_revoked();
      CREATE FUNCTION gatehouse_sessions_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE now_ms BIGINT := ${POSTGRES_NOW};
      BEGIN
        INSERT INTO gatehouse_changes (at, kind, user_id, session_id)
          SELECT now_ms, 'session_ended', user_id, id FROM gatehouse_old_sessions
          WHERE revoked_at IS NULL AND expires_at > now_ms;
        RETURN NULL;
      END $$;
      CREATE TRIGGER gatehouse_sessions_deleted AFTER DELETE ON gatehouse_sessions
        REFERENCING OLD TABLE AS gatehouse_old_sessions
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_sessions_deleted();

      -- Once per writing statement (and PostgreSQL folds equal payloads of one transaction into one).
      CREATE FUNCTION gatehouse_changes_notify() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN
        PERFORM pg_notify('${CHANGE_CHANNEL}', TG_TABLE_SCHEMA);
        RETURN NULL;
      END $$;
      CREATE TRIGGER gatehouse_changes_notify AFTER INSERT ON gatehouse_changes
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_changes_notify();`)
  },
}
