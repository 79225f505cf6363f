// Picks a store driver from DATABASE_URL and opens it; the contract itself imports no driver.
import { isAbsolute, resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import type { Store } from './contract.js'

export type DatabaseLocation =
  { driver: 'sqlite'; filename: string } | { driver: 'postgres'; connectionString: string }

/**
 * Reads the SQLAlchemy-style URLs a FastAPI app's `.env` carries: `sqlite:///relative.db`,
 * `sqlite:////absolute.db`, `sqlite://` or `sqlite:///:memory:` for a private in-memory database, and
 * `postgresql://` (also `postgres://` and SQLAlchemy's `postgresql+psycopg2://`, `+asyncpg` ...,
 * whose driver part means nothing here). `setting` names the URL's origin in messages, which never
 * echo the URL itself: it may carry a password.
 */
export function parseDatabaseUrl(
  url: string,
  cwd = process.cwd(),
  setting = 'DATABASE_URL',
): DatabaseLocation {
  const sqlite = /^sqlite(?:\+\w+)?:\/\/(.*)$/i.exec(url)
  if (sqlite) {
    const rest = sqlite[1] ?? ''
    if (rest === '' || rest === '/:memory:') return { driver: 'sqlite', filename: ':memory:' }
    if (!rest.startsWith('/'))
      throw new ConfigError(`${setting}: expected sqlite:///path/to/file.db, got '${url}'`)
    const path = rest.slice(1)
    return { driver: 'sqlite', filename: isAbsolute(path) ? path : resolve(cwd, path) }
  }
  const postgres = /^postgres(?:ql)?(?:\+\w+)?:\/\/(.*)$/i.exec(url)
  if (postgres) {
    const connectionString = `postgresql://${postgres[1] ?? ''}`
    if (!URL.canParse(connectionString))
      throw new ConfigError(`${setting}: expected postgresql://user:password@host:5432/database`)
    return { driver: 'postgres', connectionString }
  }
  const scheme = /^([a-z][\w+.-]*):/i.exec(url)?.[1]
  if (scheme?.toLowerCase().startsWith('sqlite'))
    throw new ConfigError(`${setting}: expected sqlite:///path/to/file.db`)
  if (scheme)
    throw new ConfigError(
      `${setting}: the '${scheme}' database is not supported (use sqlite:///users.db or postgresql://...)`,
    )
  throw new ConfigError(
    `${setting} is not a database URL (expected e.g. sqlite:///users.db or postgresql://host/database)`,
  )
}

export interface OpenStoreOptions {
  /** Where relative SQLite paths start; defaults to process.cwd(). */
  cwd?: string
  /** PostgreSQL: connections kept at most (DATABASE_POOL_SIZE). */
  poolSize?: number
}

/** Opens the database of `databaseUrl` and brings its schema up to date (idempotent). */
export async function openStore(
  databaseUrl: string,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const location = parseDatabaseUrl(databaseUrl, options.cwd)
  if (location.driver === 'postgres') {
    const { openPostgresStore } = await import('./postgres/index.js')
    return openPostgresStore(location.connectionString, { poolSize: options.poolSize })
  }
  const { openSqliteStore } = await import('./sqlite/index.js')
  return openSqliteStore(location.filename)
}
