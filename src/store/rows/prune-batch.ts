// How many rows one pruning DELETE takes, for every table pruned in batches: each batch commits on
// its own, so a large prune never holds its locks for long.

/** Audit events are deleted (pruneAudit), and ended sessions and old changes pruned, this many rows per statement. */
export const PRUNE_BATCH = 1_000
