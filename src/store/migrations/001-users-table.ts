// The tutorial's table, created only when absent. A table SQLAlchemy created may lack a unique
// index on username (the login lookup); one is added then, since usernames are unique by contract.
import type { Migration } from './index.js'

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
    const indexes = db.prepare<[], { name: string; unique: number }>(`PRAGMA index_list(users)`).all()
    const usernameIndexed = indexes.some((index) => {
      const columns = db.prepare<[], { name: string }>(`PRAGMA index_info("${index.name.replaceAll('"', '""')}")`).all()
      return index.unique === 1 && columns.length === 1 && columns[0]?.name === 'username'
    })
    if (!usernameIndexed) db.exec('CREATE UNIQUE INDEX gatehouse_users_username ON users (username)')
  },
}
