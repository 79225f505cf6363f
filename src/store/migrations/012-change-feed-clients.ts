// The change feed says when a registered client is removed or its row changes (a rotated secret, its
// grants or scopes), naming the client in a new `client_id` column, so that every instance ends the
// revocation event streams that client opened with credentials that no longer hold. Triggers write
// it in the transaction of the change, whoever makes it (the CLI, the admin API, another instance).
import type { Migration } from './migration.js'

const SQLITE_NOW = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`
const POSTGRES_NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`

export const changeFeedClients: Migration = {
  version: 12,
  name: 'change feed clients',
  sqlite(db) {
    // Any update of the row: each says something about what the client may do, and they are rare.
    db.exec(`
      ALTER TABLE gatehouse_changes ADD COLUMN client_id TEXT;
      CREATE TRIGGER gatehouse_clients_removed AFTER DELETE ON gatehouse_clients
        BEGIN INSERT INTO gatehouse_changes (at, kind, client_id)
          VALUES (${SQLITE_NOW}, 'client_changed', OLD.client_id); END;
      CREATE TRIGGER gatehouse_clients_changed AFTER UPDATE ON gatehouse_clients
        BEGIN INSERT INTO gatehouse_changes (at, kind, client_id)
          VALUES (${SQLITE_NOW}, 'client_changed', OLD.client_id); END;`)
  },
  async postgres(client) {
    // The insert fires gatehouse_changes_notify (version 9): other instances hear of it at commit.
    await client.query(`
      ALTER TABLE gatehouse_changes ADD COLUMN client_id TEXT;
      CREATE FUNCTION gatehouse_client_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN
        INSERT INTO gatehouse_changes (at, kind, client_id)
          VALUES (${POSTGRES_NOW}, 'client_changed', OLD.client_id);
        RETURN NULL;
      END $$;
      CREATE TRIGGER gatehouse_clients_changed AFTER UPDATE OR DELETE ON gatehouse_clients
        FOR EACH ROW EXECUTE FUNCTION gatehouse_client_change();`)
  },
}
