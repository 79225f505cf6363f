// Transactions on the PostgreSQL pool: one connection per transaction, rolled back on failure (and
// closed when its state is unknown), run again after a deadlock or serialization failure.
import pg from 'pg'
import { toStoreError } from './store-errors.js'

/** What a transaction's work gets: a client inside the open transaction. */
export type Query = Pick<pg.ClientBase, 'query'>

/**
 * Transactions PostgreSQL aborted to break a deadlock (e.g. a refresh meeting the removal of its user,
 * which lock a token and its session in opposite orders) or a serialization conflict: run again, a
 * few times, as they hold nothing once rolled back.
 */
const RETRIED_SQLSTATES = new Set(['40P01', '40001'])
const MAX_ATTEMPTS = 3

/** Runs `work` in a transaction on one pooled connection: committed, or rolled back and rethrown. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: Query) => Promise<T>,
): Promise<T> {
  return withConnection(pool, async (client) => {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  })
}

/**
 * A read-modify-write transaction that does not wait for the disk (synchronous_commit off for it
 * only: a server crash may lose it, never corrupt it), in two round trips: its start with `read`
 * (whose rows `modify` gets), then modify's `write` with the commit. Both are simple queries, which
 * take no parameters: values go in as literals (pg.escapeLiteral, integer()).
 */
export async function inTwoRoundTrips<T>(
  pool: pg.Pool,
  read: string,
  modify: (rows: unknown[]) => { write: string; result: T },
): Promise<T> {
  return withConnection(pool, async (client) => {
    const results = (await client.query(
      `BEGIN; SET LOCAL synchronous_commit TO off; ${read}`,
    )) as unknown as pg.QueryResult[]
    const { write, result } = modify(results.at(-1)!.rows)
    await client.query(`${write}; COMMIT`)
    return result
  })
}

/**
 * Runs `run` on one pooled connection, rolling back what it left open on failure and retrying it on a
 * deadlock or serialization failure; errors come out as the store's.
 */
async function withConnection<T>(
  pool: pg.Pool,
  run: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw toStoreError(error)
    }
    // A connection that breaks while checked out reports here, between queries; unheard, it would crash the process.
    let broken: Error | undefined
    const onError = (error: Error): void => {
      broken = error
    }
    client.on('error', onError)
    try {
      return await run(client)
    } catch (error) {
      // A connection whose state is unknown is closed rather than handed to the next caller.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken ??= rollbackError))
      if (
        attempt < MAX_ATTEMPTS &&
        error instanceof pg.DatabaseError &&
        RETRIED_SQLSTATES.has(error.code ?? '')
      )
        continue
      throw toStoreError(error)
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }
}
