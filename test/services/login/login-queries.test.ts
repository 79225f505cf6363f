// What one password login costs PostgreSQL: its round trips, and the commits that wait for the disk.
// The throttle's counters commit without waiting for the write-ahead log (waiting for it made a login
// slower than its password check), all of a login's in two updates of two round trips each: the
// locks with the start, the writes with the commit.
import pg from 'pg'
import { describe, expect, it, vi } from 'vitest'
import { build } from '../../helper.js'
import { freshSchema, skipPostgres } from '../../support/postgres.js'

const PASSWORD = 'correct horse battery'

/** The text of each statement sent on any connection while `work` runs, in order. */
async function statementsDuring(work: () => Promise<void>): Promise<string[]> {
  // A spy calls through: the statements run as they would, and are recorded.
  const spy = vi.spyOn(pg.Client.prototype, 'query')
  try {
    await work()
    return spy.mock.calls.map(([first]) =>
      typeof first === 'string' ? first : (first as { text: string }).text,
    )
  } finally {
    spy.mockRestore()
  }
}

/** Transactions by their round trips, and the round trips outside any transaction. */
function transactions(texts: string[]): { transactions: string[][]; alone: string[] } {
  const found: string[][] = []
  const alone: string[] = []
  let current: string[] | undefined
  for (const text of texts) {
    if (text.startsWith('BEGIN')) found.push((current = [text]))
    else if (current) {
      current.push(text)
      if (/(^|; )(COMMIT|ROLLBACK)$/.test(text)) current = undefined
    } else alone.push(text)
  }
  return { transactions: found, alone }
}

describe.skipIf(skipPostgres)('a password login on PostgreSQL', () => {
  it('waits for the disk at two commits only (the session, the audit event); the throttle does not', async () => {
    const { url } = await freshSchema()
    // One connection: statements are then sent one transaction after the other, as counted.
    const t = await build({ databaseUrl: url, env: { DATABASE_POOL_SIZE: '1' } })
    await t.addUser({ username: 'alice', scopes: ['me'] })
    await t.login('alice', PASSWORD)

    const texts = await statementsDuring(async () => {
      await t.login('alice', PASSWORD)
    })
    const { transactions: done, alone } = transactions(texts)
    const throttle = done.filter((statements) =>
      statements.some((text) => text.includes('gatehouse_throttle')),
    )
    const durable = done.filter((statements) => statements[0] === 'BEGIN')
    const writesAlone = alone.filter((text) => /^\s*(INSERT|UPDATE|DELETE|WITH)/i.test(text))

    // The pair, the address, the username and the known-address mark before the check, in one
    // update; the pair, the mark and the address again after it, in another.
    expect(throttle).toHaveLength(2)
    for (const roundTrips of throttle) {
      expect(roundTrips).toHaveLength(2)
      expect(roundTrips[0]).toMatch(
        /^BEGIN; SET LOCAL synchronous_commit TO off; INSERT INTO gatehouse_throttle/,
      )
      expect(roundTrips[1]).toMatch(/; COMMIT$/)
    }
    // The session and its refresh token: one statement, created only while the user row (locked FOR
    // SHARE) still has the credentials the login verified; then the audit event.
    expect(durable).toEqual([])
    expect(writesAlone).toEqual([
      expect.stringMatching(
        /^WITH owner AS \(SELECT true FROM users WHERE id = \$2 .* FOR SHARE\)/s,
      ),
      expect.stringMatching(/^INSERT INTO gatehouse_audit/),
    ])
    // Every round trip: a regression here is a slower login (was 38, then 32, now 8): the counters
    // before and after the check (2 each), the user, their second factor, the session, the audit
    // event; the prune rides on a commit.
    expect(texts.length).toBeLessThanOrEqual(8)
  })
})
