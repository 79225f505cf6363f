// One pg pool per process, and the ways the driver's modules use it: a query (its errors as the
// store's), the number of rows a statement changed, a transaction, and batched deletes.
import pg from 'pg'
import { PRUNE_BATCH } from '../rows/prune-batch.js'
import { toStoreError } from './store-errors.js'
import { inTransaction, type Query } from './transactions.js'

export interface PostgresStoreOptions {
  /** Connections kept at most (DATABASE_POOL_SIZE). */
  poolSize?: number
  /** How long a query may wait for a connection before failing with DatabaseUnavailable. */
  connectionTimeoutMillis?: number
}

export interface Database {
  pool: pg.Pool
  /** With a `name`, PostgreSQL parses and plans the statement once per connection (the hot path's lookups). */
  query: <R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    name?: string,
  ) => Promise<pg.QueryResult<R>>
  /** How many rows the statement changed. */
  changed: (text: string, values: unknown[]) => Promise<number>
  transaction: <T>(work: (client: Query) => Promise<T>) => Promise<T>
  /** Runs a batched DELETE until a batch comes back short; each batch commits on its own. */
  deleteInBatches: (text: string, values: unknown[]) => Promise<number>
}

// BIGINT columns hold epoch milliseconds (and counts), far below 2^53: numbers, not pg's default strings.
const BIGINT_AS_NUMBER: pg.CustomTypesConfig = {
  getTypeParser: (oid, format): unknown =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format),
}

export function openDatabase(connectionString: string, options: PostgresStoreOptions): Database {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    // Fail fast: a request waiting for an unreachable database answers 503 instead of hanging.
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 3_000,
    types: BIGINT_AS_NUMBER,
    application_name: 'gatehouse',
  })
  // An idle connection the server dropped (restart, failover) is discarded by the pool and the next
  // query opens a new one; without a listener the process would exit.
  pool.on('error', () => undefined)

  const query = async <R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>> => {
    try {
      return await pool.query<R>({ text, values, name })
    } catch (error) {
      throw toStoreError(error)
    }
  }
  const changed = async (text: string, values: unknown[]): Promise<number> =>
    (await query(text, values)).rowCount ?? 0
  return {
    pool,
    query,
    changed,
    transaction: (work) => inTransaction(pool, work),
    deleteInBatches: async (text, values) => {
      let total = 0
      for (;;) {
        const deleted = await changed(text, values)
        total += deleted
        if (deleted < PRUNE_BATCH) return total
      }
    },
  }
}
