// The store contract: every driver (SQLite, PostgreSQL) runs these same tests, one file per part of
// the Store (as src/store/contract/ and the drivers are cut).
import type { Store } from '../../../src/store/contract.js'
import { auditContract } from './audit.js'
import { changeFeedContract } from './change-feed.js'
import { clientContract } from './clients.js'
import { credentialsContract } from './credentials.js'
import type { StoreWithSql } from './fixtures.js'
import { issuerContract } from './issuers.js'
import { keyContract } from './keys.js'
import { leaseContract } from './leases.js'
import { mailContract } from './mail.js'
import { mfaContract } from './mfa.js'
import { sessionContract } from './sessions.js'
import { throttleContract } from './throttle.js'
import { userContract } from './users.js'

export function storeContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  throttleContract(name, open)
  credentialsContract(name, open, openWithSql)
  changeFeedContract(name, open, openWithSql)
  mfaContract(name, open)
  mailContract(name, open, openWithSql)
  userContract(name, open, openWithSql)
  sessionContract(name, open, openWithSql)
  keyContract(name, open)
  auditContract(name, open, openWithSql)
  leaseContract(name, open)
  clientContract(name, open)
  issuerContract(name, open)
}
