// The token owners this instance has seen, kept in memory so that a protected request in steady state
// costs no database query, and dropped the moment the change feed says their session or user changed
// or the client it was opened through changed (whoever changed it: another instance, the CLI, the
// FastAPI app). Memory is trusted only while the feed is live: from a gap until it has reconnected and
// caught up, every lookup reads the database.
import type { Logger } from 'pino'
import type {
  Change,
  ChangeStore,
  SessionStore,
  Store,
  TokenOwner,
  UserStore,
} from '../../store/contract.js'

export interface TokenOwnerCache extends Pick<SessionStore, 'findTokenOwner'> {
  /** Applies every change committed before this call; a write of this process awaits it. */
  catchUp(): Promise<void>
  /** Lookups answered from memory and from the database, since start. */
  readonly stats: { hits: number; misses: number; size: number; trusted: boolean }
  close(): Promise<void>
}

interface Entry {
  username: string
  owner: TokenOwner
}

/** After the feed failed to start, how long until it is tried again (lookups read the database meanwhile). */
const RETRY_MS = 1_000

export function createTokenOwnerCache(deps: {
  store: Pick<SessionStore, 'findTokenOwner'> & Pick<ChangeStore, 'subscribeChanges'>
  /** Sessions kept at most (TOKEN_OWNER_CACHE_SIZE); the least recently used goes first. */
  size: number
  log: Pick<Logger, 'warn' | 'info'>
}): TokenOwnerCache {
  const { store, size, log } = deps
  /** By session id, in least-recently-used order (a Map keeps insertion order). */
  const entries = new Map<string, Entry>()
  const sessionsOf = new Map<number, Set<string>>()
  /** Bumped by every change applied and every gap: a lookup that spans one does not fill the cache. */
  let generation = 0
  let subscription: Awaited<ReturnType<ChangeStore['subscribeChanges']>> | undefined
  let starting: Promise<void> | undefined
  let retryAt = 0
  let closed = false
  let hits = 0
  let misses = 0

  const forget = (sessionId: string): void => {
    const entry = entries.get(sessionId)
    if (!entry) return
    entries.delete(sessionId)
    const sessions = sessionsOf.get(entry.owner.user.id)
    sessions?.delete(sessionId)
    if (sessions?.size === 0) sessionsOf.delete(entry.owner.user.id)
  }
  const forgetUser = (userId: number | null): void => {
    if (userId === null) return
    for (const sessionId of sessionsOf.get(userId) ?? []) entries.delete(sessionId)
    sessionsOf.delete(userId)
  }
  // Client changes are rare (a rotated secret, a removal): a scan beats keeping a second index.
  const forgetClient = (clientId: string | null): void => {
    if (clientId === null) return
    for (const [sessionId, entry] of entries) {
      if (entry.owner.session.clientId === clientId) forget(sessionId)
    }
  }
  const clear = (): void => {
    entries.clear()
    sessionsOf.clear()
  }

  const apply = (changes: Change[]): void => {
    generation++
    for (const change of changes) {
      if (change.kind === 'session_ended' && change.sessionId !== null) forget(change.sessionId)
      else if (change.kind === 'client_changed') forgetClient(change.clientId)
      else forgetUser(change.userId)
    }
  }

  const start = (): Promise<void> => {
    starting ??= store
      .subscribeChanges(apply, (error) => {
        // Nothing remembered can be trusted now: what changes during the gap goes unseen.
        generation++
        clear()
        log.warn(
          { err: error },
          'change feed lost: token owners are read from the database until it is back',
        )
      })
      .then(
        (started) => {
          if (closed) return void started.close()
          subscription = started
        },
        (error: unknown) => {
          retryAt = Date.now() + RETRY_MS
          starting = undefined
          log.warn(
            { err: error },
            'could not subscribe to the change feed: token owners are read from the database',
          )
        },
      )
    return starting
  }

  const trusted = (): boolean => subscription?.live === true

  return {
    async findTokenOwner(username, sessionId) {
      if (!subscription && !closed && Date.now() >= retryAt) await start()
      // Another process wrote (SQLite: the CLI, another worker): what it changed counts from this request.
      if (subscription?.pending()) await subscription.catchUp()
      const entry = trusted() ? entries.get(sessionId) : undefined
      if (entry && entry.username === username) {
        hits++
        // Most recently used goes last.
        entries.delete(sessionId)
        entries.set(sessionId, entry)
        return entry.owner
      }
      misses++
      const before = generation
      const owner = await store.findTokenOwner(username, sessionId)
      // Only what no change or gap may have overtaken since the read began, and only live sessions.
      if (owner && before === generation && trusted() && owner.session.revokedAt === null) {
        forget(sessionId)
        entries.set(sessionId, { username, owner })
        let sessions = sessionsOf.get(owner.user.id)
        if (!sessions) sessionsOf.set(owner.user.id, (sessions = new Set()))
        sessions.add(sessionId)
        if (entries.size > size) forget(entries.keys().next().value!)
      }
      return owner
    },
    async catchUp() {
      await subscription?.catchUp()
    },
    get stats() {
      return { hits, misses, size: entries.size, trusted: trusted() }
    },
    async close() {
      closed = true
      await starting
      await subscription?.close()
      clear()
    },
  }
}

/**
 * Every method of the user store, by whether it writes the user row: a method added to the store
 * must be classified here before it compiles, so that no write to a user row (verification, scopes,
 * address, name, disable, password, MFA's session ends, ...) misses the one path below.
 */
const USER_STORE: Record<keyof UserStore, 'read' | 'write'> = {
  findUserByUsername: 'read',
  findUserById: 'read',
  createUser: 'write',
  findTaken: 'read',
  listUsers: 'read',
  searchUsers: 'read',
  updateProfile: 'write',
  replacePasswordHash: 'write',
  hasBcryptHashes: 'read',
  setDisabled: 'write',
  removeUser: 'write',
  setScopes: 'write',
  changeCredentials: 'write',
}

/** The writes after which this process's next request must already see the change. */
const WRITES: readonly (keyof Store)[] = [
  ...(Object.keys(USER_STORE) as (keyof UserStore)[]).filter(
    (name) => USER_STORE[name] === 'write',
  ),
  // Writes of the user row that other parts of the store make.
  'setEmailVerified',
  'revokeSession',
  'removeClient',
]

/**
 * The store, with every write that can change a token owner followed by the cache catching up on the
 * feed, so that a logout or a disable made here is refused on this instance's very next request
 * (other instances hear of it through the feed within milliseconds).
 */
export function withCatchUp(store: Store, cache: Pick<TokenOwnerCache, 'catchUp'>): Store {
  // Every other method is the store's own, looked up at each call.
  const wrapped: Store = Object.create(store) as Store
  for (const name of WRITES) {
    const write = (store[name] as (...args: unknown[]) => Promise<unknown>).bind(store)
    ;(wrapped as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const result = await write(...args)
      await cache.catchUp()
      return result
    }
  }
  return wrapped
}
