// A users.db as the FastAPI tutorial app (SQLAlchemy) writes it, for the drop-in and import tests.
import { join } from 'node:path'
import Database from 'better-sqlite3'

// johndoe / "secret", the hash printed in FastAPI's security tutorial (passlib bcrypt, cost 12).
export const TUTORIAL_HASH = '$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW'

export const SQLALCHEMY_SQLITE_SCHEMA = `
CREATE TABLE users (
	id INTEGER NOT NULL,
	username VARCHAR,
	full_name VARCHAR,
	email VARCHAR,
	hashed_password VARCHAR,
	disabled BOOLEAN,
	PRIMARY KEY (id)
);
CREATE INDEX ix_users_id ON users (id);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ix_users_username ON users (username);`

/** Writes `dir/name` with johndoe (active), alice (disabled) and bob (no email, a NULL flag). */
export function writeTutorialDb(dir: string, name = 'fastapi.db'): string {
  const filename = join(dir, name)
  const db = new Database(filename)
  db.exec(SQLALCHEMY_SQLITE_SCHEMA)
  const insert = db.prepare(
    'INSERT INTO users (username, full_name, email, hashed_password, disabled) VALUES (?, ?, ?, ?, ?)',
  )
  insert.run('johndoe', 'John Doe', 'johndoe@example.com', TUTORIAL_HASH, 0)
  insert.run('alice', 'Alice Wonderson', 'alice@example.com', TUTORIAL_HASH, 1)
  insert.run(
    'bob',
    null,
    null,
    '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    null,
  )
  db.close()
  return filename
}
