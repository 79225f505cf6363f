// The change pump both drivers deliver the feed with: each change once, late commits not skipped,
// and a gap reported once, then closed by a call after the next successful pull.
import { describe, expect, it } from 'vitest'
import { createChangePump } from '../../src/store/change-pump.js'
import { HOLE_GRACE_MS, type Change } from '../../src/store/contract.js'

const change = (id: number): Change => ({
  id,
  at: 0,
  kind: 'session_ended',
  userId: 1,
  username: null,
  sessionId: `s${id}`,
  clientId: null,
})

function pumpOver(rows: Change[], now = { ms: 0 }) {
  let failing: Error | undefined
  const delivered: number[][] = []
  const gaps: Error[] = []
  const pump = createChangePump({
    changesSince: async (afterId, limit) => {
      if (failing) throw failing
      return rows.filter((row) => row.id > afterId).slice(0, limit)
    },
    afterId: 0,
    listener: (changes) => delivered.push(changes.map((c) => c.id)),
    onGap: (error) => gaps.push(error),
    now: () => now.ms,
  })
  return { pump, delivered, gaps, fail: (error?: Error) => (failing = error) }
}

describe('change pump', () => {
  it('delivers each change once, and one that commits after a higher id when it shows up', async () => {
    const rows = [change(1), change(3)]
    const { pump, delivered } = pumpOver(rows)
    await pump.pull()
    await pump.pull()
    rows.push(change(2), change(4))
    rows.sort((a, b) => a.id - b.id)
    await pump.pull()
    expect(delivered).toEqual([
      [1, 3],
      [2, 4],
    ])
  })

  it('says what it delivered: everything up to its cursor, and the ids above it', async () => {
    const rows = [change(1), change(3), change(4)]
    const cursors: number[] = []
    const pump = createChangePump({
      changesSince: async (afterId, limit) =>
        rows.filter((row) => row.id > afterId).slice(0, limit),
      afterId: 0,
      listener: () => cursors.push(pump.cursor),
      onGap: () => undefined,
    })
    await pump.pull()
    // 2 is missing: the cursor waits below it, and the copy does not follow later pulls.
    const before = pump.delivered()
    expect(before).toEqual({ cursor: 1, above: new Set([3, 4]) })
    rows.splice(1, 0, change(2))
    await pump.pull()
    expect(pump.delivered()).toEqual({ cursor: 4, above: new Set() })
    expect(before.above).toEqual(new Set([3, 4]))
    expect(cursors).toEqual([1, 4])
  })

  it('gives up on a missing id (a rolled-back insert) only after the grace period', async () => {
    const now = { ms: 0 }
    const rows = [change(2)]
    const { pump, delivered } = pumpOver(rows, now)
    await pump.pull()
    now.ms += HOLE_GRACE_MS + 1
    rows.push(change(3))
    await pump.pull()
    rows.unshift(change(1)) // too late: id 1 was given up on
    await pump.pull()
    expect(delivered).toEqual([[2], [3]])
  })

  it('reads past a full batch, and never runs two pulls at once', async () => {
    const rows = Array.from({ length: 2_500 }, (_, i) => change(i + 1))
    const { pump, delivered } = pumpOver(rows)
    await Promise.all([pump.pull(), pump.pull(), pump.pull()])
    expect(delivered.flat()).toHaveLength(2_500)
    expect(new Set(delivered.flat()).size).toBe(2_500)
  })

  it('reports a failing read as one gap, and resumes with a call even when nothing is new', async () => {
    const { pump, delivered, gaps, fail } = pumpOver([change(1)])
    await pump.pull()
    fail(new Error('database away'))
    await pump.pull()
    pump.down(new Error('connection lost'))
    expect(pump.live).toBe(false)
    expect(gaps.map((error) => error.message)).toEqual(['database away'])
    fail(undefined)
    await pump.pull()
    expect(pump.live).toBe(true)
    expect(delivered).toEqual([[1], []])
  })
})
