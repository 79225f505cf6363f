// Account management shared by the CLI, the current user's own endpoints (and later the admin API):
// validation of what people type, hashing through the password pipeline, and the rule that a
// password change, a disable or a removal ends the user's sessions (and so their access tokens).
import { IncorrectPassword, InvalidInput, UserNotFound } from '../errors.js'
import { checkNewPassword } from '../security/password-policy.js'
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

export interface AccountsDeps {
  store: Store
  hasher: PasswordHasher
  scopes: ScopeCatalog
  /** PASSWORD_MIN_LENGTH. */
  passwordMinLength: number
}

export function createAccounts(deps: AccountsDeps): Accounts {
  const { store, hasher, scopes, passwordMinLength } = deps
  const checkPassword = (password: string, user: { username: string; email?: string | null }): void =>
    checkNewPassword(password, { minLength: passwordMinLength, username: user.username, email: user.email })

  const existing = async (username: string): Promise<UserRecord> => {
    const user = await store.findUserByUsername(username)
    if (!user) throw new UserNotFound(username)
    return user
  }

  return {
    async add(account) {
      const username = validateUsername(account.username)
      const email = account.email ? validateEmail(account.email) : null
      checkPassword(account.password, { username, email })
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
      const user = await existing(username)
      checkPassword(password, user)
      await store.setPasswordHash(username, await hasher.hash(password))
      await store.revokeUserSessions(user.id, Date.now())
    },
    async changePassword(userId, currentPassword, newPassword, keepSessionId) {
      const user = await store.findUserById(userId)
      if (!user) throw new UserNotFound(String(userId))
      if (!(await hasher.verify(currentPassword, user.hashedPassword)).matches) throw new IncorrectPassword()
      checkPassword(newPassword, user)
      if (!(await store.replacePasswordHash(user.id, user.hashedPassword, await hasher.hash(newPassword)))) {
        throw new IncorrectPassword()
      }
      await store.revokeUserSessions(user.id, Date.now(), keepSessionId)
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

function validateEmail(email: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw new InvalidInput(`'${email}' is not an email address`)
  return email
}
