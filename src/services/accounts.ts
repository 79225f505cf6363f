// Account management shared by the CLI, the current user's own endpoints (and later the admin API):
// validation of what people type, hashing through the password pipeline, and the rule that a
// password change, a disable or a removal ends the user's sessions (and so their access tokens).
import { IncorrectPassword, InvalidInput, UserNotFound } from '../errors.js'
import { checkNewPassword } from '../security/password-policy.js'
import type { PasswordHasher } from '../security/passwords.js'
import type { Store, UserRecord } from '../store/index.js'
import { toPublicUser, type AdminUser, type PublicUser } from './public-user.js'
import type { ScopeCatalog } from './scopes.js'

export interface NewAccount {
  username: string
  password: string
  email?: string | null
  fullName?: string | null
  disabled?: boolean
  /** Granted scopes; absent: the default scopes. */
  scopes?: string[]
}

export interface ProfileChange {
  email?: string | null
  fullName?: string | null
  scopes?: string[] | null
  disabled?: boolean
}

export interface Accounts {
  /** Creates a user; the username is stored NFKC-normalized and must be unique case-insensitively. */
  add(account: NewAccount): Promise<PublicUser>
  list(): Promise<PublicUser[]>
  get(username: string): Promise<AdminUser>
  search(search: {
    q?: string
    limit: number
    offset: number
  }): Promise<{ users: AdminUser[]; total: number }>
  /** Changes profile fields, scopes and the disabled flag (disabling ends every session). */
  update(username: string, change: ProfileChange): Promise<AdminUser>
  /** Ends every session of the user. */
  endSessions(username: string): Promise<void>
  /** Sets a new password and ends every session of the user. */
  setPassword(username: string, password: string): Promise<void>
  /** The user's own change: needs the current password; ends every other session. */
  changePassword(
    userId: number,
    currentPassword: string,
    newPassword: string,
    keepSessionId: string,
  ): Promise<void>
  /** Disabling also ends every session. */
  setDisabled(username: string, disabled: boolean): Promise<void>
  remove(username: string): Promise<void>
  /** Grants exactly these scopes; null returns the user to the default scopes. Returns the effective scopes. */
  setScopes(username: string, scopes: string[] | null): Promise<string[]>
  scopesOf(username: string): Promise<string[]>
}

const MAX_USERNAME_LENGTH = 150

export interface AccountsDeps {
  store: Store
  hasher: PasswordHasher
  scopes: ScopeCatalog
  /** PASSWORD_MIN_LENGTH. */
  passwordMinLength: number
}

export function createAccounts(deps: AccountsDeps): Accounts {
  const { store, hasher, scopes, passwordMinLength } = deps
  const checkPassword = (
    password: string,
    user: { username: string; email?: string | null },
  ): Promise<void> =>
    checkNewPassword(password, {
      minLength: passwordMinLength,
      username: user.username,
      email: user.email,
    })

  const existing = async (username: string): Promise<UserRecord> => {
    const user = await store.findUserByUsername(username)
    if (!user) throw new UserNotFound(username)
    return user
  }
  const adminView = (user: UserRecord): AdminUser => ({
    ...toPublicUser(user),
    scopes: scopes.granted(user),
  })
  const setDisabled = async (user: UserRecord, disabled: boolean): Promise<void> => {
    await store.setDisabled(user.username, disabled)
    if (disabled) await store.revokeUserSessions(user.id, Date.now())
  }

  return {
    async add(account) {
      const username = validateUsername(account.username.normalize('NFKC'))
      const email = account.email ? validateEmail(account.email) : null
      await checkPassword(account.password, { username, email })
      if (account.scopes) scopes.checkKnown(account.scopes)
      const user = await store.createUser({
        username,
        email,
        fullName: account.fullName || null,
        hashedPassword: await hasher.hash(account.password),
        disabled: account.disabled ?? false,
        scopes: account.scopes ? [...new Set(account.scopes)] : null,
      })
      return toPublicUser(user)
    },
    async list() {
      return (await store.listUsers()).map(toPublicUser)
    },
    async get(username) {
      return adminView(await existing(username))
    },
    async search(search) {
      const { users, total } = await store.searchUsers(search)
      return { users: users.map(adminView), total }
    },
    async update(username, change) {
      const user = await existing(username)
      if (change.scopes) scopes.checkKnown(change.scopes)
      // Absent: unchanged; null or empty: cleared.
      const email =
        change.email === undefined ? undefined : change.email ? validateEmail(change.email) : null
      const fullName = change.fullName === undefined ? undefined : change.fullName || null
      if (email !== undefined || fullName !== undefined)
        await store.updateProfile(username, { email, fullName })
      if (change.scopes !== undefined)
        await store.setScopes(username, change.scopes && [...new Set(change.scopes)])
      if (change.disabled !== undefined) await setDisabled(user, change.disabled)
      return adminView(await existing(username))
    },
    async endSessions(username) {
      await store.revokeUserSessions((await existing(username)).id, Date.now())
    },
    async setPassword(username, password) {
      const user = await existing(username)
      await checkPassword(password, user)
      const hashed = await hasher.hash(password)
      // Sessions end before the new password takes effect: a crash between the two writes must not
      // leave the new password beside sessions opened with the old one.
      await store.revokeUserSessions(user.id, Date.now())
      await store.setPasswordHash(username, hashed)
    },
    async changePassword(userId, currentPassword, newPassword, keepSessionId) {
      const user = await store.findUserById(userId)
      if (!user) throw new UserNotFound(String(userId))
      if (!(await hasher.verify(currentPassword, user.hashedPassword)).matches)
        throw new IncorrectPassword()
      await checkPassword(newPassword, user)
      const hashed = await hasher.hash(newPassword)
      // Other sessions end first, as in setPassword: a crash in between leaves the old password, not old sessions.
      await store.revokeUserSessions(user.id, Date.now(), keepSessionId)
      if (!(await store.replacePasswordHash(user.id, user.hashedPassword, hashed)))
        throw new IncorrectPassword()
    },
    async setDisabled(username, disabled) {
      await setDisabled(await existing(username), disabled)
    },
    async remove(username) {
      // Sessions go with the user (ON DELETE CASCADE), and with them every access token.
      if (!(await store.removeUser(username))) throw new UserNotFound(username)
    },
    async setScopes(username, granted) {
      if (granted !== null) scopes.checkKnown(granted)
      if (!(await store.setScopes(username, granted && [...new Set(granted)])))
        throw new UserNotFound(username)
      return scopes.granted(await existing(username))
    },
    async scopesOf(username) {
      return scopes.granted(await existing(username))
    },
  }
}

function validateUsername(username: string): string {
  if (username.length === 0) throw new InvalidInput('The username must not be empty')
  if (username.length > MAX_USERNAME_LENGTH)
    throw new InvalidInput(`The username must be at most ${MAX_USERNAME_LENGTH} characters`)
  if (/[\s\p{C}]/u.test(username))
    throw new InvalidInput('The username must not contain spaces or control characters')
  return username
}

function validateEmail(email: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254)
    throw new InvalidInput(`'${email}' is not an email address`)
  return email
}
