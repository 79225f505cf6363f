// The persistence contract: what services may ask of a database. Stores keep data only; they never
// hash, verify or decide. No driver is imported here: `open.ts` picks one from DATABASE_URL.
// Each part of the Store (users, sessions, keys, ...) is defined in contract/, one module per part,
// which is how the drivers (sqlite/, postgres/) and the contract suite (test/store/contract/) are cut.
import type { AuditStore } from './contract/audit.js'
import type { ChangeStore } from './contract/change-feed.js'
import type { ClientStore } from './contract/clients.js'
import type { IssuerStore } from './contract/issuers.js'
import type { KeyStore } from './contract/keys.js'
import type { LeaseStore } from './contract/leases.js'
import type { MailStore } from './contract/mail.js'
import type { MfaStore } from './contract/mfa.js'
import type { SessionStore } from './contract/sessions.js'
import type { ThrottleStore } from './contract/throttle.js'
import type { UserStore } from './contract/users.js'

export * from './contract/audit.js'
export * from './contract/change-feed.js'
export * from './contract/clients.js'
export * from './contract/issuers.js'
export * from './contract/keys.js'
export * from './contract/leases.js'
export * from './contract/mail.js'
export * from './contract/mfa.js'
export * from './contract/sessions.js'
export * from './contract/throttle.js'
export * from './contract/users.js'

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
  /**
   * Makes addresses unique case-insensitively where migration 14 could not (rows collided then): adds
   * the index once nothing collides. Returns the addresses that still collide, as stored (never merged).
   */
  enforceUniqueEmails(): Promise<string[]>
  close(): Promise<void>
}
