// Account management shared by the CLI, the current user's own endpoints (and later the admin API):
// validation of what people type, hashing through the password pipeline, and the rule that a
// password change, a disable or a removal ends the user's sessions (and so their access tokens).
import { IncorrectPassword, InvalidInput, UserNotFound } from '../errors.js'
import type { PasswordHasher } from '../security/passwords.js'
import type { Store, UserRecord } from '../store/index.js'
import { toPublicUser, type PublicUser } from './public-user.js'
import type { ScopeCatalog } from './scopes.js'

export interface NewAccount {
  username: string
  password: string
  email?: string | null
  fullName?: string | null
  disabled?: boolean
}

export interface Accounts {
  add(account: NewAccount): Promise<PublicUser>
  list(): Promise<PublicUser[]>
  /** Sets a new password and ends every session of the user. */
  setPassword(username: string, password: string): Promise<void>
  /** The user's own change: needs the current password; ends every other session. */
  changePassword(userId: number, currentPassword: string, newPassword: string, keepSessionId: string): Promise<void>
  /** Disabling also ends every session. */
  setDisabled(username: string, disabled: boolean): Promise<void>
  remove(username: string): Promise<void>
  /** Grants exactly these scopes; null returns the user to the default scopes. Returns the effective scopes. */
  setScopes(username: string, scopes: string[] | null): Promise<string[]>
  scopesOf(username: string): Promise<string[]>
}

const MAX_USERNAME_LENGTH = 150
/** Longer passwords are refused, never truncated. */
export const MAX_PASSWORD_LENGTH = 1_024

export function createAccounts(deps: { store: Store; hasher: PasswordHasher; scopes: ScopeCatalog }): Accounts {
  const { store, hasher, scopes } = deps

  const existing = async (username: string): Promise<UserRecord> => {
    const user = await store.findUserByUsername(username)
    if (!user) throw new UserNotFound(username)
    return user
  }

  return {
    async add(account) {
      const username = validateUsername(account.username)
      validatePassword(account.password)
      const email = account.email ? validateEmail(account.email) : null
      const user = await store.createUser({
        username,
        email,
        fullName: account.fullName || null,
        hashedPassword: await hasher.hash(account.password),
        disabled: account.disabled ?? false,
      })
      return toPublicUser(user)
    },
    async list() {
      return (await store.listUsers()).map(toPublicUser)
    },
    async setPassword(username, password) {
      validatePassword(password)
      const user = await existing(username)
      const hashed = await hasher.hash(password)
      // Sessions end before the new password takes effect: a crash between the two writes must not
      // leave the new password beside sessions opened with the old one.
      await store.revokeUserSessions(user.id, Date.now())
      await store.setPasswordHash(username, hashed)
    },
    async changePassword(userId, currentPassword, newPassword, keepSessionId) {
      const user = await store.findUserById(userId)
      if (!user) throw new UserNotFound(String(userId))
      if (!(await hasher.verify(currentPassword, user.hashedPassword)).matches) throw new IncorrectPassword()
      validatePassword(newPassword)
      const hashed = await hasher.hash(newPassword)
      // Other sessions end first, as in setPassword: a crash in between leaves the old password, not old sessions.
      await store.revokeUserSessions(user.id, Date.now(), keepSessionId)
      if (!(await store.replacePasswordHash(user.id, user.hashedPassword, hashed))) throw new IncorrectPassword()
    },
    async setDisabled(username, disabled) {
      const user = await existing(username)
      await store.setDisabled(username, disabled)
      if (disabled) await store.revokeUserSessions(user.id, Date.now())
    },
    async remove(username) {
      // Sessions go with the user (ON DELETE CASCADE), and with them every access token.
      if (!(await store.removeUser(username))) throw new UserNotFound(username)
    },
    async setScopes(username, granted) {
      if (granted !== null) scopes.checkKnown(granted)
      if (!(await store.setScopes(username, granted && [...new Set(granted)]))) throw new UserNotFound(username)
      return scopes.granted(await existing(username))
    },
    async scopesOf(username) {
      return scopes.granted(await existing(username))
    },
  }
}

function validateUsername(username: string): string {
  if (username.length === 0) throw new InvalidInput('The username must not be empty')
  if (username.length > MAX_USERNAME_LENGTH) throw new InvalidInput(`The username must be at most ${MAX_USERNAME_LENGTH} characters`)
  if (/[\s\p{C}]/u.test(username)) throw new InvalidInput('The username must not contain spaces or control characters')
  return username
}

function validatePassword(password: string): void {
  if (password.length === 0) throw new InvalidInput('The password must not be empty')
  if (password.length > MAX_PASSWORD_LENGTH) throw new InvalidInput(`The password must be at most ${MAX_PASSWORD_LENGTH} characters`)
}

function validateEmail(email: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw new InvalidInput(`'${email}' is not an email address`)
  return email
}
