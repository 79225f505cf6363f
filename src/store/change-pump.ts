// Delivery of the change feed (gatehouse_changes) to one subscriber, shared by both drivers: a
// cursor, pulls that never overlap, each change delivered once, and the gap/resume signalling. The
// drivers only say when to pull (SQLite: a timer; PostgreSQL: a notification) and when the feed is down.
import {
  HOLE_GRACE_MS,
  type Change,
  type ChangeListener,
  type DeliveredChanges,
  type GapListener,
} from './contract.js'

/** Changes read per query while catching up. */
const PULL_BATCH = 1_000

export interface ChangePump {
  /** Reads and delivers what is new; a failure reports a gap. Resolves when this pull is done. */
  pull(): Promise<void>
  /** The feed is down (connection lost): report a gap once; the next successful pull resumes it. */
  down(error: Error): void
  readonly live: boolean
  /** Every change up to this id was delivered, or given up on as rolled back. */
  readonly cursor: number
  /** What was delivered so far, as a copy: everything up to `cursor`, and the ids in `above`. */
  delivered(): DeliveredChanges
}

export function createChangePump(options: {
  changesSince: (afterId: number, limit: number) => Promise<Change[]>
  afterId: number
  listener: ChangeListener
  onGap: GapListener
  now?: () => number
}): ChangePump {
  const { changesSince, listener, onGap } = options
  const now = options.now ?? Date.now
  /** Every id up to the cursor was delivered or given up on. */
  let cursor = options.afterId
  /** Ids above the cursor already delivered; and ids above it still missing, with when first missed. */
  const delivered = new Set<number>()
  const holes = new Map<number, number>()
  let live = true
  let running: Promise<void> | undefined
  let again = false

  const advance = (): void => {
    for (;;) {
      const next = cursor + 1
      if (delivered.delete(next)) cursor = next
      else if (holes.has(next) && now() - holes.get(next)! > HOLE_GRACE_MS) {
        holes.delete(next)
        cursor = next
      } else return
    }
  }

  const readAll = async (): Promise<Change[]> => {
    const fresh: Change[] = []
    for (let after = cursor; ;) {
      const batch = await changesSince(after, PULL_BATCH)
      for (const change of batch) {
        if (change.id <= cursor || delivered.has(change.id)) continue
        fresh.push(change)
      }
      if (batch.length < PULL_BATCH) return fresh
      after = batch.at(-1)!.id
    }
  }

  const pullOnce = async (): Promise<void> => {
    let fresh: Change[]
    try {
      fresh = await readAll()
    } catch (error) {
      down(error as Error)
      return
    }
    let highest = cursor
    for (const change of fresh) {
      delivered.add(change.id)
      holes.delete(change.id)
      highest = Math.max(highest, change.id)
    }
    for (let id = cursor + 1; id < highest; id++)
      if (!delivered.has(id) && !holes.has(id)) holes.set(id, now())
    advance()
    const resumed = !live
    live = true
    // After a gap the listener is called even with nothing new: that call says the feed is live again.
    if (fresh.length > 0 || resumed) listener(fresh)
  }

  const down = (error: Error): void => {
    if (!live) return
    live = false
    onGap(error)
  }

  const pull = (): Promise<void> => {
    if (running) {
      // A pull asked for during one must see what committed after that one started.
      again = true
      return running
    }
    running = (async () => {
      do {
        again = false
        await pullOnce()
      } while (again)
    })().finally(() => {
      running = undefined
    })
    return running
  }

  return {
    pull,
    down,
    get live() {
      return live
    },
    get cursor() {
      return cursor
    },
    delivered: () => ({ cursor, above: new Set(delivered) }),
  }
}
