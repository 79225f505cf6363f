// The SQLite side of ChangeStore. SQLite has no notifications: a subscription polls the file, and
// tells without a read whether another connection committed since (PRAGMA data_version).
import type Database from 'better-sqlite3'
import { createChangePump } from '../change-pump.js'
import type { ChangeStore } from '../contract.js'
import { toChange, type ChangeRow } from '../rows/change-feed.js'
import { PRUNE_BATCH } from '../rows/prune-batch.js'

/** The least time between two questions to the file whether another process committed. */
const PENDING_CHECK_MS = 1

export function createSqliteChangeStore(db: Database.Database): ChangeStore {
  const statements = {
    changesSince: db.prepare<[number, number], ChangeRow>(
      'SELECT * FROM gatehouse_changes WHERE id > ? ORDER BY id LIMIT ?',
    ),
    changeBefore: db.prepare<[number], { id: number }>(
      'SELECT id FROM gatehouse_changes WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1',
    ),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    latestChange: db.prepare<[], { id: number | null }>(
      'SELECT MAX(id) AS id FROM gatehouse_changes',
    ),
    pruneChanges: db.prepare<[number]>(
      `DELETE FROM gatehouse_changes WHERE id IN (SELECT id FROM gatehouse_changes WHERE at < ? ORDER BY id LIMIT ${PRUNE_BATCH})`,
    ),
  }

  return {
    async changesSince(afterId, limit) {
      return statements.changesSince.all(afterId, limit).map(toChange)
    },
    async latestChangeId() {
      return statements.latestChange.get()?.id ?? 0
    },
    async changeIdBefore(at) {
      return statements.changeBefore.get(at)?.id ?? 0
    },
    async subscribeChanges(listener, onGap, options = {}) {
      // Other processes (the CLI, another server on the same file) write too, and SQLite has no
      // notifications: the file is polled (one indexed read of the newest rows, ~100 µs per second),
      // and `pending` tells whether another connection committed since (a pragma, no read). The
      // pragma looks at the file's shared memory: asked on every request it cost a tenth of the hot
      // path, so it is asked at most once a millisecond (PostgreSQL's notifications take 1-4 ms).
      let seenVersion = statements.dataVersion.get()!
      let askedAt = Number.NEGATIVE_INFINITY
      const pump = createChangePump({
        changesSince: async (afterId, limit) =>
          statements.changesSince.all(afterId, limit).map(toChange),
        afterId: options.afterId ?? statements.latestChange.get()?.id ?? 0,
        listener,
        onGap,
      })
      const pull = (): Promise<void> => {
        // Read before the changes: a commit after it is either read too or seen as pending next time.
        seenVersion = statements.dataVersion.get()!
        return pump.pull()
      }
      const timer = setInterval(() => void pull(), options.pollMs ?? 100)
      timer.unref()
      return {
        get live() {
          return pump.live
        },
        get cursor() {
          return pump.cursor
        },
        delivered: () => pump.delivered(),
        catchUp: pull,
        pending() {
          const now = performance.now()
          if (now - askedAt < PENDING_CHECK_MS) return false
          askedAt = now
          return statements.dataVersion.get() !== seenVersion
        },
        async close() {
          clearInterval(timer)
        },
      }
    },
    async pruneChanges(before) {
      let total = 0
      for (;;) {
        const deleted = statements.pruneChanges.run(before).changes
        total += deleted
        if (deleted < PRUNE_BATCH) return total
      }
    },
  }
}
