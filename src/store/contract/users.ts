// The users part of the contract: the user row as stored (hash included) and what services may ask
// of it, credential changes included (a login's session depends on them: see sessions.ts).

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

/** A user of another database (`gatehouse users import`), as it holds them: the tutorial's schema
 * allows NULL almost everywhere. */
export interface SourceUser {
  username: string | null
  email: string | null
  fullName: string | null
  hashedPassword: string | null
  disabled: boolean
  scopes: string[] | null
}
