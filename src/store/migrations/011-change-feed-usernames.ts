// The change feed names the user of every row, as the user's tokens name them (`sub`), so that
// revocation events can say whose tokens died without a lookup (the user may be gone by then):
// session rows carry the username too, and a user_changed row names the user as they were before the
// change (a rename leaves the tokens issued under the old name). A removed user's live sessions are
// recorded before the row goes, while the name can still be read; the cascade then records nothing.
import type { Migration } from './migration.js'

const SQLITE_NOW = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`
const POSTGRES_NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`

/** The columns whose change alters a token owner (what findTokenOwner reads) or their password. */
const USER_FIELDS = ['username', 'email', 'full_name', 'hashed_password', 'disabled', 'scopes']
const changedWhen = (distinct: string): string =>
  USER_FIELDS.map((field) => `OLD.${field} ${distinct} NEW.${field}`).join(' OR ')

export const changeFeedUsernames: Migration = {
  version: 11,
  name: 'change feed usernames',
  sqlite(db) {
    const usernameOf = (userId: string) => `(SELECT username FROM users WHERE id = ${userId})`
    db.exec(`
      DROP TRIGGER gatehouse_users_changed;
      DROP TRIGGER gatehouse_sessions_revoked;
      DROP TRIGGER gatehouse_sessions_deleted;

      CREATE TRIGGER gatehouse_users_changed AFTER UPDATE ON users WHEN ${changedWhen('IS NOT')}
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, username)
          VALUES (${SQLITE_NOW}, 'user_changed', NEW.id, OLD.username); END;
      CREATE TRIGGER gatehouse_users_removing BEFORE DELETE ON users
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
          SELECT ${SQLITE_NOW}, 'session_ended', OLD.id, OLD.username, s.id FROM gatehouse_sessions s
            WHERE s.user_id = OLD.id AND s.revoked_at IS NULL AND s.expires_at > ${SQLITE_NOW}
            ORDER BY s.id; END;
      CREATE TRIGGER gatehouse_sessions_revoked AFTER UPDATE OF revoked_at ON gatehouse_sessions
        WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND NEW.expires_at > ${SQLITE_NOW}
        BEGIN
          INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
            VALUES (${SQLITE_NOW}, 'session_ended', NEW.user_id, ${usernameOf('NEW.user_id')}, NEW.id);
          INSERT INTO gatehouse_changes (at, kind, user_id, username)
            SELECT ${SQLITE_NOW}, 'user_sessions_ended', NEW.user_id, ${usernameOf('NEW.user_id')}
            WHERE NOT EXISTS (
              SELECT 1 FROM gatehouse_sessions WHERE user_id = NEW.user_id AND revoked_at IS NULL
                AND expires_at > ${SQLITE_NOW});
        END;
      CREATE TRIGGER gatehouse_sessions_deleted AFTER DELETE ON gatehouse_sessions
        WHEN OLD.revoked_at IS NULL AND OLD.expires_at > ${SQLITE_NOW}
          AND EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)
        BEGIN INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
          VALUES (${SQLITE_NOW}, 'session_ended', OLD.user_id, ${usernameOf('OLD.user_id')}, OLD.id); END;`)
  },
  async postgres(client) {
    // CREATE OR REPLACE keeps the triggers of version 9 attached to the new bodies.
    await client.query(`
      CREATE OR REPLACE FUNCTION gatehouse_user_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN
        IF TG_OP = 'DELETE' THEN
          INSERT INTO gatehouse_changes (at, kind, user_id, username)
            VALUES (${POSTGRES_NOW}, 'user_removed', OLD.id, OLD.username);
          RETURN OLD;
        END IF;
        INSERT INTO gatehouse_changes (at, kind, user_id, username)
          VALUES (${POSTGRES_NOW}, 'user_changed', NEW.id, OLD.username);
        RETURN NEW;
      END $$;

      CREATE FUNCTION gatehouse_user_removing() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE now_ms BIGINT := ${POSTGRES_NOW};
      BEGIN
        INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
          SELECT now_ms, 'session_ended', OLD.id, OLD.username, s.id FROM gatehouse_sessions s
          WHERE s.user_id = OLD.id AND s.revoked_at IS NULL AND s.expires_at > now_ms ORDER BY s.id;
        RETURN OLD;
      END $$;
      CREATE TRIGGER gatehouse_users_removing BEFORE DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION gatehouse_user_removing();

      CREATE OR REPLACE FUNCTION gatehouse_sessions_revoked() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE now_ms BIGINT := ${POSTGRES_NOW};
      BEGIN
        WITH ended AS (
          SELECT n.id, n.user_id, u.username FROM gatehouse_new_sessions n
            JOIN gatehouse_old_sessions o ON o.id = n.id
            LEFT JOIN users u ON u.id = n.user_id
          WHERE o.revoked_at IS NULL AND n.revoked_at IS NOT NULL AND n.expires_at > now_ms)
        INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
          SELECT now_ms, 'session_ended', user_id, username, id FROM ended
          UNION ALL
          SELECT DISTINCT now_ms, 'user_sessions_ended', e.user_id, e.username, NULL::text FROM ended e
            WHERE NOT EXISTS (SELECT 1 FROM gatehouse_sessions s WHERE s.user_id = e.user_id
              AND s.revoked_at IS NULL AND s.expires_at > now_ms);
        RETURN NULL;
      END $$;

      -- Sessions deleted with their user were recorded by gatehouse_user_removing: the join skips them.
      CREATE OR REPLACE FUNCTION gatehouse_sessions_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      DECLARE now_ms BIGINT := ${POSTGRES_NOW};
      BEGIN
        INSERT INTO gatehouse_changes (at, kind, user_id, username, session_id)
          SELECT now_ms, 'session_ended', o.user_id, u.username, o.id FROM gatehouse_old_sessions o
            JOIN users u ON u.id = o.user_id
          WHERE o.revoked_at IS NULL AND o.expires_at > now_ms;
        RETURN NULL;
      END $$;`)
  },
}
