// Copying users from another database into this one (`gatehouse users import`). Hashes are copied as
// they are: bcrypt and argon2 hashes verify, and are upgraded on the first login. Idempotent by
// username; an email that another user already has is reported and that user skipped, never a crash.
import { DuplicateUser } from '../../errors.js'
import type { SourceUser } from '../../store/contract.js'
import type { UserStore } from '../../store/contract.js'
import type { Actor } from '../shared/actor.js'
import { auditEvent } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'

export interface ImportConflict {
  username: string | null
  reason: string
}

export interface ImportReport {
  imported: number
  /** Usernames the target already has: left exactly as they are. */
  skippedExisting: number
  conflicts: ImportConflict[]
}

export interface ImportOptions {
  /** Decide everything, write nothing. */
  dryRun?: boolean
  /** Told after each source user, with how many are done. */
  onProgress?: (done: number) => void
  /**
   * Imported addresses count as verified (the source app had no such step) unless this is set: then
   * they await verification, asked for at the user's next refused login (REQUIRE_VERIFIED_EMAIL).
   */
  emailsUnverified?: boolean
  /** A real import is recorded in the audit log as done by `actor`. */
  audit?: { events: SecurityEvents; actor: Actor }
}

export async function importUsers(
  source: readonly SourceUser[],
  target: UserStore,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const existing = await target.listUsers()
  // Updated as users are imported, so that a dry run finds the same conflicts as a real one.
  const usernames = new Set(existing.map((user) => user.username))
  const emails = new Set(existing.flatMap((user) => (user.email === null ? [] : [user.email])))
  const report: ImportReport = { imported: 0, skippedExisting: 0, conflicts: [] }

  for (const [index, user] of source.entries()) {
    const outcome = await importOne(user)
    if (outcome === 'imported') report.imported += 1
    else if (outcome === 'existing') report.skippedExisting += 1
    else report.conflicts.push({ username: user.username, reason: outcome.conflict })
    options.onProgress?.(index + 1)
  }
  if (options.audit && !options.dryRun) {
    const { events, actor } = options.audit
    await events(
      auditEvent.usersImported(actor, {
        imported: report.imported,
        skippedExisting: report.skippedExisting,
        conflicts: report.conflicts.length,
      }),
    )
  }
  return report

  async function importOne(
    user: SourceUser,
  ): Promise<'imported' | 'existing' | { conflict: string }> {
    if (!user.username) return { conflict: 'the source row has no username' }
    // An empty email means none: two of them must not collide on the unique index.
    const email = user.email || null
    if (usernames.has(user.username)) return 'existing'
    if (email !== null && emails.has(email))
      return { conflict: `the email ${email} belongs to another user` }
    if (!options.dryRun) {
      try {
        await target.createUser({
          username: user.username,
          email,
          fullName: user.fullName,
          // A NULL hash matches no password, like the empty one stored for it.
          hashedPassword: user.hashedPassword ?? '',
          disabled: user.disabled,
          scopes: user.scopes,
          emailVerified: email !== null && options.emailsUnverified ? false : null,
        })
      } catch (error) {
        // Someone created the same user meanwhile (another import, the API): the same outcomes.
        if (!(error instanceof DuplicateUser)) throw error
        if (error.field === 'username') return 'existing'
        return { conflict: `the email ${email} belongs to another user` }
      }
    }
    usernames.add(user.username)
    if (email !== null) emails.add(email)
    return 'imported'
  }
}
