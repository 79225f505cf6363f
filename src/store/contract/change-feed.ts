// The change-feed part of the contract: what ends or alters a bearer token's rights, as rows written
// by database triggers, and subscriptions that deliver them to an instance.

/**
 * PostgreSQL hands out ids when a row is inserted but shows it at commit, so a change may appear
 * after one with a higher id. An id skipped over is waited for this long (re-read on every pull)
 * before it is taken for a rolled-back insert; change-writing transactions last milliseconds.
 */
export const HOLE_GRACE_MS = 30_000

/**
 * What a change-feed row says. `session_ended`: one session ended (revoked, or deleted while active).
 * `user_sessions_ended`: the user has no active session left (said once, after the last one ends).
 * `user_changed`: their username, email, full name, hash, disabled flag or scopes changed.
 * `user_removed`: the user row was deleted (their sessions with it).
 * `client_changed`: a registered client was removed or its row changed (a rotated secret).
 */
export type ChangeKind =
  'session_ended' | 'user_sessions_ended' | 'user_changed' | 'user_removed' | 'client_changed'

/** One row of the change feed, written by database triggers whoever changes the data. */
export interface Change {
  /** Increasing; a subscriber resumes after the last id it saw. */
  id: number
  /** Epoch milliseconds (the database's clock). */
  at: number
  kind: ChangeKind
  userId: number | null
  username: string | null
  /** For session_ended. */
  sessionId: string | null
  /** For client_changed. */
  clientId: string | null
}

/** New changes, in id order, each delivered once. A call after a gap means the feed is live again. */
export type ChangeListener = (changes: Change[]) => void
/** The feed is down: changes go unseen until the listener is called again (after catching up). */
export type GapListener = (error: Error) => void

/** The changes a subscription has delivered: every id up to `cursor`, and the ids in `above`. */
export interface DeliveredChanges {
  cursor: number
  above: ReadonlySet<number>
}

export interface ChangeSubscription {
  /** False from a gap until the feed has reconnected and delivered everything since. */
  readonly live: boolean
  /**
   * Every change up to this id has been delivered (or given up on as rolled back): a point from which
   * reading the feed again misses nothing this subscription delivered. Read it in the listener for the
   * point after that call's changes.
   */
  readonly cursor: number
  /** A copy of what has been delivered so far (ids commit out of order on PostgreSQL). */
  delivered(): DeliveredChanges
  /** Delivers every change committed before this call (e.g. after a write of this process). */
  catchUp(): Promise<void>
  /**
   * Whether another process may have committed changes that catchUp would deliver, known without a
   * query: SQLite asks the file whether another connection committed since the last pull (PRAGMA
   * data_version, at most once a millisecond); PostgreSQL is told by notifications and answers false.
   */
  pending(): boolean
  close(): Promise<void>
}

export interface SubscribeOptions {
  /** Deliver the changes after this id (default: only those after the subscription starts). */
  afterId?: number
  /** SQLite: how often the file is polled for changes (default 100 ms). */
  pollMs?: number
}

export interface ChangeStore {
  /** Changes with an id above `afterId`, oldest first, at most `limit`. */
  changesSince(afterId: number, limit: number): Promise<Change[]>
  /** The id of the newest change, 0 when there is none. */
  latestChangeId(): Promise<number>
  /**
   * The id of the newest change (by its time) older than `at` (epoch ms), 0 when there is none: a
   * point to read the feed from to see every change since about `at` (ids and times may disagree by
   * the moments concurrent writers take; allow a margin).
   */
  changeIdBefore(at: number): Promise<number>
  /**
   * Calls `listener` with every change committed from now on, by any process (PostgreSQL: LISTEN on
   * a dedicated connection, reconnected when lost, calling `onGap` then; SQLite: polling the file).
   */
  subscribeChanges(
    listener: ChangeListener,
    onGap: GapListener,
    options?: SubscribeOptions,
  ): Promise<ChangeSubscription>
  /** Deletes the changes older than `before` (epoch ms), in batches; returns how many. */
  pruneChanges(before: number): Promise<number>
}
