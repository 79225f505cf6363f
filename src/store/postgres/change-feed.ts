// The PostgreSQL side of ChangeStore: the feed read by id, and subscriptions driven by notifications
// (change-listener.ts), which the store closes when it closes.
import type { ChangeStore } from '../contract.js'
import { toChange, type ChangeRow } from '../rows/change-feed.js'
import { PRUNE_BATCH } from '../rows/prune-batch.js'
import { listenForChanges } from './change-listener.js'
import type { Database } from './database.js'

/**
 * The change feed of the schema `schema` of `connectionString`, and a way to close the subscriptions
 * it opened.
 */
export function createPostgresChangeStore(
  { query, deleteInBatches }: Database,
  connectionString: string,
  schema: string,
): { changes: ChangeStore; closeSubscriptions: () => Promise<void> } {
  const subscriptions = new Set<{ close(): Promise<void> }>()
  const changes: ChangeStore = {
    async changesSince(afterId, limit) {
      const { rows } = await query<ChangeRow>(
        'SELECT * FROM gatehouse_changes WHERE id > $1 ORDER BY id LIMIT $2',
        [afterId, limit],
        'gatehouse_changes_since',
      )
      return rows.map(toChange)
    },
    async latestChangeId() {
      const { rows } = await query<{ id: number | null }>(
        'SELECT MAX(id) AS id FROM gatehouse_changes',
      )
      return rows[0]?.id ?? 0
    },
    async changeIdBefore(at) {
      const { rows } = await query<{ id: number }>(
        'SELECT id FROM gatehouse_changes WHERE at < $1 ORDER BY at DESC, id DESC LIMIT 1',
        [at],
      )
      return rows[0]?.id ?? 0
    },
    async subscribeChanges(listener, onGap, options = {}) {
      const subscription = await listenForChanges({
        connectionString,
        schema,
        changesSince: (afterId, limit) => changes.changesSince(afterId, limit),
        latestChangeId: () => changes.latestChangeId(),
        listener,
        onGap,
        afterId: options.afterId,
      })
      subscriptions.add(subscription)
      return {
        get live() {
          return subscription.live
        },
        get cursor() {
          return subscription.pump.cursor
        },
        delivered: () => subscription.pump.delivered(),
        catchUp: () => subscription.catchUp(),
        // Notifications drive the pulls.
        pending: () => false,
        async close() {
          subscriptions.delete(subscription)
          await subscription.close()
        },
      }
    },
    async pruneChanges(before) {
      return deleteInBatches(
        `DELETE FROM gatehouse_changes WHERE id IN (
           SELECT id FROM gatehouse_changes WHERE at < $1 ORDER BY id LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
        [before],
      )
    },
  }
  return {
    changes,
    closeSubscriptions: async () => {
      await Promise.all([...subscriptions].map((subscription) => subscription.close()))
    },
  }
}
