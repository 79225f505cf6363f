// Pruning on SQLite: a batched DELETE run until a batch comes back short, each batch its own
// transaction, so that the one writer lets other work in between.
import { PRUNE_BATCH } from '../rows/prune-batch.js'

/** Runs a batched DELETE until a batch comes back short, letting other work in between batches. */
export async function deleteInBatches(run: () => number): Promise<number> {
  let total = 0
  for (;;) {
    const deleted = run()
    total += deleted
    if (deleted < PRUNE_BATCH) return total
    await new Promise((resolve) => setImmediate(resolve))
  }
}
