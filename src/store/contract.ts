// The persistence contract: what services may ask of a database. Stores keep data only; they never
// hash, verify or decide. No driver is imported here: `open.ts` picks one from DATABASE_URL.

export { AUDIT_DELETE_FLOOR_MS } from './migrations/005-credentials-retention-leases.js'
export { HOLE_GRACE_MS } from './change-feed.js'

/** Ended sessions are kept this long after their end, so that a replayed refresh token is still recognised. */
export const SESSION_PRUNE_GRACE_MS = 3_600_000

/** A user row as stored, hash included. Never leaves the services. */
export interface UserRecord {
  id: number
  username: string
  email: string | null
  fullName: string | null
  hashedPassword: string
  disabled: boolean
  /** Scopes granted to the user; null means the configured default scopes. */
  scopes: string[] | null
  /**
   * Changes with every credential change made through changeCredentials, and whenever `disabled`
   * changes (a database trigger, whoever writes the row): what createSessionIfCurrent checks.
   */
  credentialVersion: number
  /**
   * The address's verification: false while a link sent to it waits, true once followed; null when
   * Gatehouse never asked (users from before, or written by the FastAPI app), which counts as verified.
   */
  emailVerified: boolean | null
}

export interface NewUser {
  username: string
  email?: string | null
  fullName?: string | null
  hashedPassword: string
  disabled?: boolean
  scopes?: string[] | null
  /** Default null (see UserRecord.emailVerified). */
  emailVerified?: boolean | null
}

/** One login: the family of refresh tokens rotated from it. Times are epoch milliseconds. */
export interface SessionRecord {
  id: string
  userId: number
  scope: string[]
  createdAt: number
  lastUsedAt: number
  /** Absolute end of the session, whatever its use. */
  expiresAt: number
  revokedAt: number | null
  userAgent: string | null
  ip: string | null
  /** How the user authenticated at login (RFC 8176 `amr` values); empty for sessions older than MFA. */
  amr: string[]
  /** The registered client the session was opened through; null when none was named. */
  clientId: string | null
}

/** What a bearer token check needs to know about its user and session. */
export interface TokenOwner {
  /** With the scopes the user holds now, which bound what any of their tokens may still do. */
  user: Pick<
    UserRecord,
    'id' | 'username' | 'email' | 'fullName' | 'disabled' | 'scopes' | 'emailVerified'
  >
  session: Pick<SessionRecord, 'revokedAt' | 'expiresAt'>
}

export interface NewSession extends Omit<
  SessionRecord,
  'lastUsedAt' | 'revokedAt' | 'amr' | 'clientId'
> {
  /** Defaults to none recorded. */
  amr?: readonly string[]
  clientId?: string | null
  /** The first refresh token of the session, hashed. */
  refreshTokenHash: string
}

export interface RefreshTokenRecord {
  tokenHash: string
  sessionId: string
  issuedAt: number
  /** When it was exchanged for a new one; presenting it again afterwards is reuse. */
  spentAt: number | null
  /**
   * The token it was exchanged for, sealed (encrypted by the sessions use-case), so that a retry
   * within the reuse grace answers the same one; null when none was kept.
   */
  successor: string | null
}

export interface SigningKeyRecord {
  kid: string
  algorithm: string
  /** PKCS#8 PEM. */
  privateKey: string
  /** The public key as a JWK (JSON text), as published in the JWKS. */
  publicJwk: string
  createdAt: number
  /** After this moment the key neither signs nor verifies; null while it is current. */
  retireAt: number | null
}

export interface UserSearch {
  /** Case-insensitive substring of username, email or full name. */
  q?: string
  limit: number
  offset: number
}

export interface UserStore {
  findUserByUsername(username: string): Promise<UserRecord | undefined>
  findUserById(id: number): Promise<UserRecord | undefined>
  /** Throws DuplicateUser when the username (compared by its usernameKey) or the email is taken. */
  createUser(user: NewUser): Promise<UserRecord>
  /**
   * Which of a new user's fields another user has already (the username as it is or by its key, the
   * email), so that a duplicate is refused before its password is hashed. createUser still decides.
   */
  findTaken(user: {
    username: string
    email: string | null
  }): Promise<'username' | 'email' | undefined>
  listUsers(): Promise<UserRecord[]>
  /** A page of users in creation order, and how many match in all. */
  searchUsers(search: UserSearch): Promise<{ users: UserRecord[]; total: number }>
  /** Changes the given profile fields; false when there is no such user. Throws DuplicateUser for a taken email. */
  updateProfile(
    username: string,
    profile: { email?: string | null; fullName?: string | null; emailVerified?: boolean | null },
  ): Promise<boolean>
  /**
   * Replaces the hash only if it is still `expectedHash`, so an upgrade-on-login can never
   * overwrite a password changed in the meantime. Returns whether it replaced it.
   */
  replacePasswordHash(id: number, expectedHash: string, hashedPassword: string): Promise<boolean>
  /** Whether any user still has a bcrypt hash (the slowest kind to verify): sizes the login timing floor. */
  hasBcryptHashes(): Promise<boolean>
  /**
   * Sets only the flag, ending no session (as the FastAPI app writes it; the accounts use-case goes
   * through changeCredentials). Returns false when there is no such user.
   */
  setDisabled(username: string, disabled: boolean): Promise<boolean>
  /** Returns false when there is no such user. */
  removeUser(username: string): Promise<boolean>
  /** Sets the granted scopes (null: back to the defaults); false when there is no such user. */
  setScopes(username: string, scopes: string[] | null): Promise<boolean>
  /**
   * In one transaction: changes the user row (only if its hash is still `expectedHash`, when given),
   * bumps its credentialVersion, then, with `revoke`, revokes every active session of the user but
   * `revoke.exceptSessionId`. False, changing and revoking nothing, when no row matched. A login that
   * read the user before this commits cannot create a session afterwards (createSessionIfCurrent).
   */
  changeCredentials(
    userId: number,
    change: CredentialChange,
    revoke: { now: number; exceptSessionId?: string } | undefined,
  ): Promise<boolean>
}

export interface CredentialChange {
  hashedPassword?: string
  /** Compare-and-set: change nothing unless the stored hash is still this one. */
  expectedHash?: string
  disabled?: boolean
}

/** What a login verified: createSessionIfCurrent creates the session only while it still holds. */
export interface CurrentCredentials {
  hashedPassword: string
  credentialVersion: number
}

export interface SessionStore {
  /** Stores a session with its first refresh token, atomically. */
  createSession(session: NewSession): Promise<void>
  /**
   * Stores the session with its first refresh token only if its user still has exactly `expect`'s hash
   * and credential version and is not disabled, atomically with that check: a credential change
   * either commits first (and this creates nothing: false) or waits for this and then revokes it.
   * False also when the user was removed.
   */
  createSessionIfCurrent(session: NewSession, expect: CurrentCredentials): Promise<boolean>
  /**
   * The hot path of every protected request: the token's session (by primary key) and its user (by
   * rowid), in one read of only the columns the check needs (no hash, no session details); undefined
   * unless the session exists and its user has this username.
   */
  findTokenOwner(username: string, sessionId: string): Promise<TokenOwner | undefined>
  findRefreshToken(
    tokenHash: string,
  ): Promise<{ token: RefreshTokenRecord; session: SessionRecord } | undefined>
  /**
   * Spends `oldHash` and issues `newHash` in its session, atomically: true for exactly one caller,
   * false when the old token was already spent or its session revoked.
   */
  rotateRefreshToken(
    oldHash: string,
    newHash: string,
    now: number,
    sealedSuccessor?: string,
  ): Promise<boolean>
  /** Sessions of the user that are neither revoked nor past their absolute end. */
  listActiveSessions(userId: number, now: number): Promise<SessionRecord[]>
  /** Revokes one session (of `userId` when given); false when there was no such active session. */
  revokeSession(sessionId: string, now: number, userId?: number): Promise<boolean>
  /**
   * Deletes, with their refresh tokens, the sessions revoked or past their absolute end before
   * `now - SESSION_PRUNE_GRACE_MS`, in batches; returns how many sessions.
   */
  pruneSessions(now: number): Promise<number>
}

export interface KeyStore {
  /** Keys not yet retired at `now`, newest first. */
  listSigningKeys(now: number): Promise<SigningKeyRecord[]>
  /** Adds a key and schedules every other current key to retire at `retireOthersAt`. */
  addSigningKey(key: SigningKeyRecord, retireOthersAt: number): Promise<void>
}

/** A security event (login, refresh, logout, password change, admin action ...). Never a secret. */
export interface AuditEvent {
  id: number
  /** Epoch milliseconds. */
  at: number
  type: string
  outcome: string
  username: string | null
  ip: string | null
  userAgent: string | null
  detail: string | null
  /** Who acted: 'cli:<os user>', 'admin:<name>', the user themself ...; null when not recorded. */
  actor: string | null
}

/** An event to append; `actor` may be left out (null). */
export type NewAuditEvent = Omit<AuditEvent, 'id' | 'actor'> & { actor?: string | null }

export interface AuditStore {
  /** Appends an event; the log has no update, and no delete but pruneAudit's. */
  appendAudit(event: NewAuditEvent): Promise<void>
  /** Newest first; `before` pages back from an event id. */
  listAudit(page: { limit: number; before?: number }): Promise<AuditEvent[]>
  /**
   * Deletes the events older than `before` (epoch ms), in batches; returns how many. The database
   * refuses to delete events younger than AUDIT_DELETE_FLOOR_MS: such a `before` is an error.
   */
  pruneAudit(before: number): Promise<number>
}

export interface LeaseStore {
  /**
   * Compare-and-set across processes: `holder` gets (or renews) the lease `name` until `now + ttlMs`
   * if nobody else holds it at `now`. True when it did.
   */
  takeLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>
}

/** A registered OAuth client (RFC 6749 §2). Times are epoch milliseconds. */
export interface ClientRecord {
  clientId: string
  name: string
  /** Confidential clients authenticate with a secret (RFC 6749 §2.1). */
  confidential: boolean
  /** SHA-256 of the secret (a 256-bit random value); null for a public client. */
  secretHash: string | null
  /** The grant types it may use. */
  grants: string[]
  /** The scopes it may ask for (and, with client_credentials, holds). */
  scopes: string[]
  createdAt: number
}

export interface ClientStore {
  createClient(client: ClientRecord): Promise<void>
  findClient(clientId: string): Promise<ClientRecord | undefined>
  /** Oldest first. */
  listClients(): Promise<ClientRecord[]>
  /**
   * Removes the client and, in the same transaction, revokes every active session opened through it
   * (its users' refresh and access tokens die with it). Undefined when there is no such client.
   */
  removeClient(clientId: string, now: number): Promise<{ sessionsEnded: number } | undefined>
  /** Replaces a confidential client's secret hash; false when there is no such client. */
  setClientSecret(clientId: string, secretHash: string): Promise<boolean>
}

export interface IssuerStore {
  /** Records an issuer that instances sign under (idempotent). */
  recordIssuer(issuer: string, now: number): Promise<void>
  /** Every issuer recorded, oldest first. */
  listIssuers(): Promise<string[]>
}

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

/** One throttling counter (see services/throttle/login-throttle.ts). Times are epoch milliseconds. */
export interface ThrottleState {
  count: number
  windowStart: number
  blockedUntil: number
  strikes: number
  /** When the row may be forgotten. */
  expiresAt: number
}

export interface ThrottleStore {
  /**
   * Reads the counters `keys` (distinct; an absent or expired one reads as undefined), lets `update`
   * decide their next states (in the same order; null: forget it) and a result, and stores them,
   * atomically across processes. `update` may run more than once (a store retries on contention):
   * keep it pure. Returns the result.
   */
  updateThrottles<T>(keys: readonly string[], update: ThrottleUpdate<T>): Promise<T>
}

export type ThrottleUpdate<T> = (states: (ThrottleState | undefined)[]) => {
  states: (ThrottleState | null)[]
  result: T
}

/** A user's TOTP factor. Times are epoch milliseconds. */
export interface TotpFactorRecord {
  userId: number
  /** The base32 secret, sealed (security/sealing.ts): the store never sees it in clear. */
  sealedSecret: string
  createdAt: number
  /** Null while the enrolment awaits its first code. */
  confirmedAt: number | null
  /** The last time step a code was accepted for: a code of that step or an earlier one is a replay. */
  lastStep: number | null
}

/** The proof of a password that a second factor must complete (Auth0's `mfa_token`), stored hashed. */
export interface MfaTokenRecord {
  tokenHash: string
  userId: number
  /** The client the password grant was made by, when it said (`client_id`). */
  clientId: string | null
  /** The scope the password grant asked for. */
  scope: string | null
  /** A digest of the password hash that was verified, and the credential version it was verified at. */
  passwordDigest: string
  credentialVersion: number
  createdAt: number
  expiresAt: number
  spentAt: number | null
}

export interface MfaStore {
  findTotp(userId: number): Promise<TotpFactorRecord | undefined>
  /** Starts (or restarts) a pending enrolment; false, changing nothing, when a confirmed factor exists. */
  startTotp(userId: number, sealedSecret: string, now: number): Promise<boolean>
  /**
   * Confirms the pending enrolment of exactly `sealedSecret`, accepting `step`, and replaces the user's
   * recovery codes with these (hashed), in one transaction; false when there is no such pending one.
   */
  confirmTotp(
    userId: number,
    sealedSecret: string,
    step: number,
    recoveryCodeHashes: readonly string[],
    now: number,
  ): Promise<boolean>
  /** Accepts a code's time step for a confirmed factor only if it is later than any accepted before. */
  acceptTotpStep(userId: number, step: number): Promise<boolean>
  /** Removes the factor and the recovery codes; false when there was no factor. */
  removeTotp(userId: number): Promise<boolean>
  /** Spends an unused recovery code; false when it is not one of the user's unused codes. */
  spendRecoveryCode(userId: number, codeHash: string, now: number): Promise<boolean>
  countRecoveryCodes(userId: number): Promise<number>
  /** Stores an mfa_token (and forgets a few expired ones on the way). */
  createMfaToken(token: MfaTokenRecord): Promise<void>
  findMfaToken(tokenHash: string): Promise<MfaTokenRecord | undefined>
  /** Spends a live, unspent mfa_token: true for exactly one caller. */
  spendMfaToken(tokenHash: string, now: number): Promise<boolean>
}

export type OneTimePurpose = 'reset' | 'verify'

/** A password reset or e-mail verification token, stored as its hash. Times are epoch milliseconds. */
export interface OneTimeTokenRecord {
  tokenHash: string
  purpose: OneTimePurpose
  userId: number
  /** What the token was issued against (e.g. the credentials, the address): a change voids it. */
  binding: string
  createdAt: number
  expiresAt: number
  usedAt: number | null
}

/** A message of the outbox, claimed for one sending attempt. */
export interface OutboxMessage {
  id: number
  kind: string
  /** The message as the mail service wrote it (encrypted); null once sent or given up. */
  payload: string | null
  /** Attempts made before this one. */
  attempts: number
}

export type OutboxOutcome =
  { sentAt: number } | { retryAt: number; error: string } | { failedAt: number; error: string }

export interface MailStore {
  /** The user with this address, compared case-insensitively (an exact match first). */
  findUserByEmail(email: string): Promise<UserRecord | undefined>
  /** Marks the address verified, only while the user still has exactly `email`; false otherwise. */
  setEmailVerified(userId: number, email: string): Promise<boolean>
  createOneTimeToken(token: Omit<OneTimeTokenRecord, 'usedAt'>): Promise<void>
  findOneTimeToken(tokenHash: string): Promise<OneTimeTokenRecord | undefined>
  /** Marks the token used if it is unused and unexpired at `now`: true for exactly one caller. */
  useOneTimeToken(tokenHash: string, now: number): Promise<boolean>
  /** Marks every unused token of the user for `purpose` used; returns how many. */
  voidOneTimeTokens(userId: number, purpose: OneTimePurpose, now: number): Promise<number>
  /** Adds a message to send from `now`; returns its id. */
  enqueueMail(message: { kind: string; payload: string }, now: number): Promise<number>
  /**
   * Claims up to `limit` messages due at `now` for one attempt: counts it and moves their next attempt
   * to `claimUntil`, atomically, so that no other sender takes them meanwhile (SKIP LOCKED).
   */
  claimMail(now: number, limit: number, claimUntil: number): Promise<OutboxMessage[]>
  /** Records an attempt's outcome; a sent or failed message loses its payload. */
  settleMail(id: number, outcome: OutboxOutcome): Promise<void>
  /** Deletes tokens expired and messages settled before `before`; returns how many rows. */
  pruneMail(before: number): Promise<number>
}

export interface Store
  extends
    UserStore,
    SessionStore,
    KeyStore,
    ThrottleStore,
    AuditStore,
    LeaseStore,
    IssuerStore,
    ChangeStore,
    MfaStore,
    MailStore,
    ClientStore {
  /** Resolves when the database answers a trivial query; rejects otherwise (readiness). */
  ping(): Promise<void>
  /** Connection pool usage, for drivers that pool connections. */
  poolStats?(): { total: number; idle: number; waiting: number }
  /** The schema version the database is at (the newest migration applied to it). */
  schemaVersion(): Promise<number>
  close(): Promise<void>
}
