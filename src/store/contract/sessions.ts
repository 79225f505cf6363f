// The sessions part of the contract: a login's session with its family of refresh tokens, the
// token-owner lookup every protected request makes, and how long ended sessions are kept.
import type { UserRecord, CurrentCredentials } from './users.js'

/** Ended sessions are kept this long after their end, so that a replayed refresh token is still recognised. */
export const SESSION_PRUNE_GRACE_MS = 3_600_000

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
  /** With what the session was granted, which bounds every token of it whatever the token says. */
  session: Pick<SessionRecord, 'revokedAt' | 'expiresAt' | 'scope' | 'clientId'> & {
    /**
     * The scopes its client is registered for now (read in the same join): null when the session was
     * opened without a client, empty when its client is gone.
     */
    clientScopes: string[] | null
  }
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
