// Account management shared by the CLI (and later the admin API): validation of what people type,
// hashing through the password pipeline, and clear typed errors for everything that can go wrong.
import { InvalidInput, UserNotFound } from '../errors.js'
import type { PasswordHasher } from '../security/passwords.js'
import type { UserStore } from '../store/index.js'
import { toPublicUser, type PublicUser } from './public-user.js'

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
  setPassword(username: string, password: string): Promise<void>
  setDisabled(username: string, disabled: boolean): Promise<void>
  remove(username: string): Promise<void>
}

const MAX_USERNAME_LENGTH = 150
/** Longer passwords are refused, never truncated. */
export const MAX_PASSWORD_LENGTH = 1_024

export function createAccounts(deps: { store: UserStore; hasher: PasswordHasher }): Accounts {
  const { store, hasher } = deps
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
      if (!(await store.setPasswordHash(username, await hasher.hash(password)))) throw new UserNotFound(username)
    },
    async setDisabled(username, disabled) {
      if (!(await store.setDisabled(username, disabled))) throw new UserNotFound(username)
    },
    async remove(username) {
      if (!(await store.removeUser(username))) throw new UserNotFound(username)
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
