// Account management, the one place users are created, changed and removed, for the CLI, the admin
// API and the current user's own endpoints: validation of what people type, hashing through the
// password pipeline, the rule that a password change, a disable or a removal ends the user's
// sessions (and so their access tokens), and an audit event for every change, naming who acted.
import {
  DuplicateUser,
  IncorrectPassword,
  InsufficientUserAuthentication,
  InvalidCredentials,
  InvalidInput,
  RegistrationClosed,
  UserNotFound,
} from '../../errors.js'
import { checkNewPassword } from '../../security/password-policy.js'
import type { PasswordHasher } from '../../security/passwords.js'
import type { Store, UserRecord } from '../../store/contract.js'
import type { Actor, ClientInfo, SessionHolder } from '../shared/actor.js'
import { loginOutcome } from '../shared/login-outcome.js'
import type { LoginThrottle } from '../throttle/login-throttle.js'
import type { PasswordCheck } from '../login/password-check.js'
import type { RequireRecentAuthentication } from '../login/recent-authentication.js'
import { toPublicUser, type AdminUser, type PublicUser } from '../shared/public-user.js'
import type { ScopeCatalog } from '../scopes/scopes.js'
import { auditEvent, type UserAdminAction } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { Recovery } from '../recovery/recovery.js'

export interface NewAccount {
  username: string
  password: string
  email?: string | null
  fullName?: string | null
  disabled?: boolean
  /** Granted scopes; absent: the default scopes. */
  scopes?: string[]
}

/** What a person registering themselves may choose. */
export type Registration = Pick<NewAccount, 'username' | 'password' | 'email' | 'fullName'>

export interface ProfileChange {
  email?: string | null
  fullName?: string | null
  scopes?: string[] | null
  disabled?: boolean
}

export interface Accounts {
  /** An admin (or the CLI) creates a user; the username is stored NFKC-normalized, unique case-insensitively. */
  add(account: NewAccount, actor: Actor): Promise<PublicUser>
  /** Self-service registration (REGISTRATION=open); a taken username or email is not told apart. */
  register(account: Registration, client: ClientInfo): Promise<PublicUser>
  list(): Promise<PublicUser[]>
  get(username: string): Promise<AdminUser>
  search(search: {
    q?: string
    limit: number
    offset: number
  }): Promise<{ users: AdminUser[]; total: number }>
  /** Changes profile fields, scopes and the disabled flag (disabling ends every session). */
  update(username: string, change: ProfileChange, actor: Actor): Promise<AdminUser>
  /** Ends every session of the user. */
  endSessions(username: string, actor: Actor): Promise<void>
  /** Sets a new password and ends every session of the user. */
  setPassword(username: string, password: string, actor: Actor): Promise<void>
  /** The user's own change: needs the current password; ends every other session. */
  changePassword(
    holder: SessionHolder,
    currentPassword: string,
    newPassword: string,
    keepSessionId: string,
  ): Promise<void>
  /**
   * The user's own profile change (absent: unchanged; null or empty: cleared) from session
   * `sessionId`, throttled per user. A new e-mail address needs recent authentication (the current
   * password, or a login within RECENT_AUTH_SECONDS), since reset links go there; it then waits for
   * verification, the old address is told and the user's reset links die. An address another user
   * has is not taken, and its owner is told; the caller learns nothing of which happened (the HTTP
   * answer is the same), only the mail does.
   */
  updateOwnProfile(
    holder: SessionHolder,
    change: { email?: string | null; fullName?: string | null; currentPassword?: string },
    sessionId: string,
  ): Promise<PublicUser>
  /** Disabling also ends every session. */
  setDisabled(username: string, disabled: boolean, actor: Actor): Promise<void>
  remove(username: string, actor: Actor): Promise<void>
  /** Grants exactly these scopes; null returns the user to the default scopes. Returns the effective scopes. */
  setScopes(username: string, scopes: string[] | null, actor: Actor): Promise<string[]>
  scopesOf(username: string): Promise<string[]>
}

const MAX_USERNAME_LENGTH = 150

export interface AccountsDeps {
  store: Store
  hasher: PasswordHasher
  scopes: ScopeCatalog
  events: SecurityEvents
  /** The password pipeline (throttle, queue, verification, timing floor) logins use too. */
  checkPassword: PasswordCheck
  /** Recent authentication for moving the address reset links go to. */
  requireRecentAuthentication: RequireRecentAuthentication
  throttle: Pick<LoginThrottle, 'registration' | 'selfService'>
  /** PASSWORD_MIN_LENGTH. */
  passwordMinLength: number
  /** REGISTRATION=open. */
  registrationOpen: boolean
  /** Sends verification links to new addresses and address notices (none while mail is disabled). */
  verification?: Pick<Recovery, 'enabled' | 'sendVerification' | 'addressChanged' | 'addressTaken'>
}

export function createAccounts(deps: AccountsDeps): Accounts {
  const { store, hasher, scopes, events, passwordMinLength } = deps
  const acceptNewPassword = (
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
  // One transaction each: a login that verified the old credentials cannot open a session after
  // the change, and a crash cannot leave the new password beside the old sessions.
  const disable = async (user: UserRecord, disabled: boolean): Promise<void> => {
    const ended = disabled ? { now: Date.now() } : undefined
    if (!(await store.changeCredentials(user.id, { disabled }, ended))) {
      throw new UserNotFound(user.username)
    }
  }
  const audited = (actor: Actor, action: UserAdminAction, target: string) =>
    events(auditEvent.userChanged(actor, action, target))

  // An address Gatehouse can send a link to waits for it (false); without mail it is never asked (null).
  const verificationOf = (email: string | null): boolean | null =>
    email !== null && deps.verification?.enabled ? false : null

  /** Validates the profile fields given and stores them; whether the e-mail address changed. */
  const changeProfile = async (
    user: UserRecord,
    change: { email?: string | null; fullName?: string | null },
    beforeWrite?: (emailChanged: boolean) => Promise<void>,
  ): Promise<boolean> => {
    // Absent: unchanged; null or empty: cleared.
    const email =
      change.email === undefined ? undefined : change.email ? validateEmail(change.email) : null
    const fullName =
      change.fullName === undefined
        ? undefined
        : change.fullName
          ? validateFullName(change.fullName)
          : null
    const emailChanged = email !== undefined && email !== user.email
    await beforeWrite?.(emailChanged)
    if (email !== undefined || fullName !== undefined) {
      const emailVerified = emailChanged ? verificationOf(email) : undefined
      await store.updateProfile(user.username, { email, fullName, emailVerified })
    }
    return emailChanged
  }
  const create = async (account: NewAccount): Promise<PublicUser> => {
    const username = validateUsername(account.username.normalize('NFKC'))
    const email = account.email ? validateEmail(account.email) : null
    await acceptNewPassword(account.password, { username, email })
    if (account.scopes) scopes.checkKnown(account.scopes)
    // A taken name or email costs no hash (createUser still decides, against a concurrent create).
    const taken = await store.findTaken({ username, email })
    if (taken) throw new DuplicateUser(taken)
    const user = await store.createUser({
      username,
      email,
      fullName: account.fullName ? validateFullName(account.fullName) : null,
      hashedPassword: await hasher.hash(account.password),
      disabled: account.disabled ?? false,
      scopes: account.scopes ? [...new Set(account.scopes)] : null,
      emailVerified: verificationOf(email),
    })
    await deps.verification?.sendVerification(user)
    return toPublicUser(user)
  }

  return {
    async add(account, actor) {
      const user = await create(account)
      await audited(actor, 'create_user', user.username)
      return user
    },
    async register(account, client) {
      if (!deps.registrationOpen) throw new RegistrationClosed()
      // Every attempt counts, successful or not: one address cannot mint accounts without bound.
      await deps.throttle.registration(client.ip ?? '')
      const user = await create(account).catch((error: unknown) => {
        // Which of the two is taken is more than the request itself proves.
        throw error instanceof DuplicateUser ? new DuplicateUser() : error
      })
      await events(auditEvent.registration(user.username, client))
      return user
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
    async update(username, change, actor) {
      const user = await existing(username)
      if (change.scopes) scopes.checkKnown(change.scopes)
      const emailChanged = await changeProfile(user, change)
      if (change.scopes !== undefined) {
        await store.setScopes(username, change.scopes && [...new Set(change.scopes)])
      }
      if (change.disabled !== undefined) await disable(user, change.disabled)
      await audited(actor, 'update_user', username)
      const updated = await existing(username)
      if (emailChanged) await deps.verification?.sendVerification(updated)
      return adminView(updated)
    },
    async endSessions(username, actor) {
      const user = await existing(username)
      // Through the credential version, so that logins in flight end too.
      if (!(await store.changeCredentials(user.id, {}, { now: Date.now() }))) {
        throw new UserNotFound(username)
      }
      await audited(actor, 'revoke_sessions', username)
    },
    async setPassword(username, password, actor) {
      const user = await existing(username)
      await acceptNewPassword(password, user)
      const hashed = await hasher.hash(password)
      if (
        !(await store.changeCredentials(user.id, { hashedPassword: hashed }, { now: Date.now() }))
      ) {
        throw new UserNotFound(username)
      }
      await audited(actor, 'reset_password', username)
    },
    async changePassword(holder, currentPassword, newPassword, keepSessionId) {
      const record = (outcome: string) => events(auditEvent.passwordChange(holder, outcome))
      const user = await store.findUserById(holder.userId)
      if (!user) throw new UserNotFound(holder.name)
      // What does not depend on the current password is checked first: past this point an answer
      // says whether the current password was right only by succeeding.
      await acceptNewPassword(newPassword, user)
      let verifiedHash: string
      try {
        ;({ verifiedHash } = await deps.checkPassword(
          user.username,
          currentPassword,
          holder.ip ?? '',
        ))
      } catch (error) {
        await record(
          error instanceof InvalidCredentials ? 'incorrect_password' : loginOutcome(error),
        )
        throw error instanceof InvalidCredentials ? new IncorrectPassword() : error
      }
      const hashed = await hasher.hash(newPassword)
      // Only if the password is still the one just verified; every other session ends with it.
      const changed = await store.changeCredentials(
        user.id,
        { hashedPassword: hashed, expectedHash: verifiedHash },
        { now: Date.now(), exceptSessionId: keepSessionId },
      )
      if (!changed) throw new IncorrectPassword()
      await record('success')
    },
    async updateOwnProfile(holder, change, sessionId) {
      const user = await store.findUserById(holder.userId)
      if (!user) throw new UserNotFound(holder.name)
      const record = (outcome: string, detail: string | null = null) =>
        events(auditEvent.profileChange(holder, user.username, outcome, detail))
      // Every change counts, successful or not: neither a flood of writes nor an address oracle.
      await deps.throttle.selfService(user.id)
      let takenBy: UserRecord | undefined
      const emailChanged = await changeProfile(user, change, async (emailChanged) => {
        if (!emailChanged) return
        try {
          await deps.requireRecentAuthentication(
            { ...holder, name: user.username },
            { sessionId, currentPassword: change.currentPassword },
          )
        } catch (error) {
          await record(
            error instanceof IncorrectPassword
              ? 'incorrect_password'
              : error instanceof InsufficientUserAuthentication
                ? 'not_recent'
                : loginOutcome(error),
          )
          throw error
        }
        const owner = change.email ? await store.findUserByEmail(change.email) : undefined
        if (owner && owner.id !== user.id) {
          takenBy = owner
          // Not this user's to take: the rest of the change stands, the address stays.
          throw new AddressTaken()
        }
      }).catch(async (error: unknown) => {
        if (!(error instanceof AddressTaken || (error instanceof DuplicateUser && change.email)))
          throw error
        takenBy ??= change.email ? await store.findUserByEmail(change.email) : undefined
        if (change.fullName !== undefined) await changeProfile(user, { fullName: change.fullName })
        return 'taken' as const
      })
      if (emailChanged === 'taken') {
        await record('email_taken', 'address of another user: unchanged')
        if (takenBy) await deps.verification?.addressTaken(takenBy)
        return toPublicUser((await store.findUserById(user.id)) ?? user)
      }
      await record('success', emailChanged ? 'email changed' : null)
      const updated = await store.findUserById(user.id)
      if (!updated) throw new UserNotFound(holder.name)
      if (emailChanged) {
        if (deps.verification) await deps.verification.addressChanged(updated, user.email)
        // Without mail, reset links die all the same: they went to the old address.
        else await store.voidOneTimeTokens(user.id, 'reset', Date.now())
      }
      return toPublicUser(updated)
    },
    async setDisabled(username, disabled, actor) {
      await disable(await existing(username), disabled)
      await audited(actor, disabled ? 'disable_user' : 'enable_user', username)
    },
    async remove(username, actor) {
      // Sessions go with the user (ON DELETE CASCADE), and with them every access token.
      if (!(await store.removeUser(username))) throw new UserNotFound(username)
      await audited(actor, 'delete_user', username)
    },
    async setScopes(username, granted, actor) {
      if (granted !== null) scopes.checkKnown(granted)
      if (!(await store.setScopes(username, granted && [...new Set(granted)]))) {
        throw new UserNotFound(username)
      }
      await audited(actor, 'set_scopes', username)
      return scopes.granted(await existing(username))
    },
    async scopesOf(username) {
      return scopes.granted(await existing(username))
    },
  }
}

/** Inside updateOwnProfile: the address asked for is another user's. */
class AddressTaken extends Error {}

function validateUsername(username: string): string {
  if (username.length === 0) throw new InvalidInput('The username must not be empty')
  if (username.length > MAX_USERNAME_LENGTH) {
    throw new InvalidInput(`The username must be at most ${MAX_USERNAME_LENGTH} characters`)
  }
  if (/[\s\p{C}]/u.test(username)) {
    throw new InvalidInput('The username must not contain spaces or control characters')
  }
  return username
}

function validateEmail(email: string): string {
  if (!/^[^\s@\p{C}]+@[^\s@\p{C}]+$/u.test(email) || email.length > 254) {
    throw new InvalidInput('This is not an email address')
  }
  return email
}

/** Names are shown in terminals, logs and pages: control and format characters are refused. */
function validateFullName(fullName: string): string {
  if (/\p{C}/u.test(fullName)) {
    throw new InvalidInput('The full name must not contain control characters')
  }
  return fullName
}
