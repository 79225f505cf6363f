// The persistence contract: what services may ask of a database, and `openStore` choosing a driver
// from DATABASE_URL. Stores keep data only; they never hash, verify or decide.
import { isAbsolute, resolve } from 'node:path'
import { ConfigError } from '../errors.js'

/** A user row as stored, hash included. Never leaves the services. */
export interface UserRecord {
  id: number
  username: string
  email: string | null
  fullName: string | null
  hashedPassword: string
  disabled: boolean
}

export interface NewUser {
  username: string
  email?: string | null
  fullName?: string | null
  hashedPassword: string
  disabled?: boolean
}

export interface UserStore {
  findUserByUsername(username: string): Promise<UserRecord | undefined>
  /** Throws DuplicateUser when the username or email is taken. */
  createUser(user: NewUser): Promise<UserRecord>
  listUsers(): Promise<UserRecord[]>
  /** Replaces the hash; returns false when there is no such user. */
  setPasswordHash(username: string, hashedPassword: string): Promise<boolean>
  /**
   * Replaces the hash only if it is still `expectedHash`, so an upgrade-on-login can never
   * overwrite a password changed in the meantime. Returns whether it replaced it.
   */
  replacePasswordHash(id: number, expectedHash: string, hashedPassword: string): Promise<boolean>
  /** Returns false when there is no such user. */
  setDisabled(username: string, disabled: boolean): Promise<boolean>
  /** Returns false when there is no such user. */
  removeUser(username: string): Promise<boolean>
  close(): Promise<void>
}

export type DatabaseLocation = { driver: 'sqlite'; filename: string }

/**
 * Reads the SQLAlchemy-style URLs a FastAPI app's `.env` carries: `sqlite:///relative.db`,
 * `sqlite:////absolute.db`, and `sqlite://` or `sqlite:///:memory:` for a private in-memory database.
 */
export function parseDatabaseUrl(url: string, cwd = process.cwd()): DatabaseLocation {
  const sqlite = /^sqlite(?:\+\w+)?:\/\/(.*)$/i.exec(url)
  if (sqlite) {
    const rest = sqlite[1] ?? ''
    if (rest === '' || rest === '/:memory:') return { driver: 'sqlite', filename: ':memory:' }
    if (!rest.startsWith('/')) throw new ConfigError(`DATABASE_URL: expected sqlite:///path/to/file.db, got '${url}'`)
    const path = rest.slice(1)
    return { driver: 'sqlite', filename: isAbsolute(path) ? path : resolve(cwd, path) }
  }
  const scheme = /^([a-z][\w+.-]*):/i.exec(url)?.[1]
  if (scheme?.toLowerCase().startsWith('sqlite')) throw new ConfigError('DATABASE_URL: expected sqlite:///path/to/file.db')
  if (scheme) throw new ConfigError(`DATABASE_URL: the '${scheme}' database is not supported yet (use sqlite:///users.db)`)
  // The URL itself is not echoed: it may carry a password.
  throw new ConfigError('DATABASE_URL is not a database URL (expected e.g. sqlite:///users.db)')
}

export async function openStore(databaseUrl: string, cwd?: string): Promise<UserStore> {
  const location = parseDatabaseUrl(databaseUrl, cwd)
  const { openSqliteStore } = await import('./sqlite.js')
  return openSqliteStore(location.filename)
}
