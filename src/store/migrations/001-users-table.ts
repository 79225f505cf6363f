// The tutorial's table, created only when absent. A table SQLAlchemy created may lack a unique
// index on username (the login lookup); one is added then, since usernames are unique by contract.
import type { Migration } from './migration.js'

export const usersTable: Migration = {
  version: 1,
  name: 'users table',
  sqlite(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS users (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      username TEXT UNIQUE,
      full_name TEXT,
      email TEXT UNIQUE,
      hashed_password TEXT,
      disabled BOOLEAN DEFAULT 0
    )`)
    const indexes = db
      .prepare<[], { name: string; unique: number }>(`PRAGMA index_list(users)`)
      .all()
    const usernameIndexed = indexes.some((index) => {
      const columns = db
        .prepare<[], { name: string }>(`PRAGMA index_info("${index.name.replaceAll('"', '""')}")`)
        .all()
      return index.unique === 1 && columns.length === 1 && columns[0]?.name === 'username'
    })
    if (!usernameIndexed)
      db.exec('CREATE UNIQUE INDEX gatehouse_users_username ON users (username)')
  },
  async postgres(client) {
    // The column types SQLAlchemy gives the tutorial's model (String is VARCHAR), so either program
    // may have created the table.
    await client.query(`CREATE TABLE IF NOT EXISTS users (
      id SERIAL PRIMARY KEY,
      username VARCHAR UNIQUE,
      full_name VARCHAR,
      email VARCHAR UNIQUE,
      hashed_password VARCHAR,
      disabled BOOLEAN DEFAULT false
    )`)
    // A unique index on username alone, whatever its name (users_username_key, SQLAlchemy's
    // ix_users_username); partial and expression indexes do not count.
    const { rows } = await client.query<{ indexed: boolean }>(`SELECT EXISTS (
      SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = 'users'::regclass AND i.indisunique AND i.indnkeyatts = 1
        AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = 'username') AS indexed`)
    if (!rows[0]?.indexed)
      await client.query('CREATE UNIQUE INDEX gatehouse_users_username ON users (username)')
  },
}
