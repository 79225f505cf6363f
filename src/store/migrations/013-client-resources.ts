// A registered client may be a resource server (RFC 8707): it names the resource URI that token
// requests ask for with `resource=` and that becomes the token's `aud`. At most one client per URI;
// clients that are no resource server leave it null (any number of them).
import type { Migration } from './migration.js'

export const clientResources: Migration = {
  version: 13,
  name: 'client resources',
  sqlite(db) {
    db.exec(`ALTER TABLE gatehouse_clients ADD COLUMN resource TEXT;
      CREATE UNIQUE INDEX gatehouse_clients_resource ON gatehouse_clients (resource)`)
  },
  async postgres(client) {
    await client.query('ALTER TABLE gatehouse_clients ADD COLUMN resource TEXT')
    await client.query(
      'CREATE UNIQUE INDEX gatehouse_clients_resource ON gatehouse_clients (resource)',
    )
  },
}
