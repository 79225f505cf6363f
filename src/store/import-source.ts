// Reading the users of another database for `gatehouse users import`: typically a FastAPI app's
// users.db, or a PostgreSQL database. The source is opened read-only and never migrated, and only
// the tutorial's columns are read (plus `scopes` when the source is itself a Gatehouse database).
import { InvalidInput } from '../errors.js'
import type { SourceUser } from './contract.js'
import { parseDatabaseUrl } from './open.js'

interface SourceRow {
  username: string | null
  email: string | null
  full_name: string | null
  hashed_password: string | null
  disabled: boolean | number | null
  scopes: string | null
}

const TUTORIAL_COLUMNS = [
  'id',
  'username',
  'email',
  'full_name',
  'hashed_password',
  'disabled',
] as const
const SETTING = '--from'

/** Every user of the database at `url`, in id order. Problems are InvalidInput naming `--from`. */
export async function readSourceUsers(url: string, cwd?: string): Promise<SourceUser[]> {
  const location = parseDatabaseUrl(url, cwd, SETTING)
  const rows =
    location.driver === 'sqlite'
      ? await readSqlite(location.filename)
      : await readPostgres(location.connectionString)
  return rows.map((row) => ({
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    hashedPassword: row.hashed_password,
    disabled: Boolean(row.disabled),
    scopes: row.scopes === null ? null : row.scopes.split(' ').filter((scope) => scope !== ''),
  }))
}

/** The SELECT for a users table with these columns, or an error naming what is missing. */
function selectFor(columns: string[], where: string): string {
  if (columns.length === 0) throw new InvalidInput(`${SETTING}: ${where} has no users table`)
  const missing = TUTORIAL_COLUMNS.filter((column) => !columns.includes(column))
  if (missing.length > 0)
    throw new InvalidInput(`${SETTING}: the users table of ${where} lacks ${missing.join(', ')}`)
  const scopes = columns.includes('scopes') ? 'scopes' : 'NULL AS scopes'
  return `SELECT username, email, full_name, hashed_password, disabled, ${scopes} FROM users ORDER BY id`
}

async function readSqlite(filename: string): Promise<SourceRow[]> {
  if (filename === ':memory:')
    throw new InvalidInput(`${SETTING}: an in-memory database has no users to import`)
  const { default: Database } = await import('better-sqlite3')
  let db: InstanceType<typeof Database>
  try {
    // Read-only and must exist: a mistyped path must not create an empty database.
    db = new Database(filename, { readonly: true, fileMustExist: true })
  } catch (error) {
    throw new InvalidInput(
      `${SETTING}: cannot open the SQLite database at ${filename}: ${(error as Error).message}`,
    )
  }
  try {
    const columns = db
      .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('users')")
      .all()
      .map((column) => column.name)
    return db.prepare<[], SourceRow>(selectFor(columns, filename)).all()
  } catch (error) {
    if (error instanceof InvalidInput) throw error
    throw new InvalidInput(`${SETTING}: cannot read ${filename}: ${(error as Error).message}`)
  } finally {
    db.close()
  }
}

async function readPostgres(connectionString: string): Promise<SourceRow[]> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: 3_000,
    application_name: 'gatehouse-import',
  })
  // A connection lost between queries reports here; the failing query reports it too.
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('BEGIN READ ONLY')
    const { rows } = await client.query<{ name: string }>(
      "SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass('users') AND attnum > 0 AND NOT attisdropped",
    )
    const users = await client.query<SourceRow>(
      selectFor(
        rows.map((row) => row.name),
        'the PostgreSQL database',
      ),
    )
    await client.query('COMMIT')
    return users.rows
  } catch (error) {
    if (error instanceof InvalidInput) throw error
    // pg's messages name hosts and roles, never the password.
    throw new InvalidInput(
      `${SETTING}: cannot read the PostgreSQL database: ${(error as Error).message || String((error as { code?: unknown }).code)}`,
    )
  } finally {
    await client.end().catch(() => undefined)
  }
}
