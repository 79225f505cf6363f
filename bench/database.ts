// The bench's database: a SQLite file in the run's temporary directory, or, with BENCH_DATABASE_URL
// (postgresql://...), a schema of its own in that PostgreSQL database, dropped after the run.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'

export interface BenchDatabase {
  url: string
  /** What the tables say about it. */
  label: string
  drop(): Promise<void>
}

export async function benchDatabase(dir: string): Promise<BenchDatabase> {
  const postgres = process.env.BENCH_DATABASE_URL
  if (!postgres)
    return { url: `sqlite:///${join(dir, 'users.db')}`, label: 'SQLite', drop: async () => {} }
  const schema = `gh_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: postgres })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const url = new URL(postgres)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return {
    url: url.toString(),
    label: 'PostgreSQL',
    async drop() {
      const client = new pg.Client({ connectionString: postgres })
      await client.connect()
      await client.query(`DROP SCHEMA ${schema} CASCADE`)
      await client.end()
    },
  }
}
