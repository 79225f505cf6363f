// Schema versions, applied in order by each driver inside one transaction. A version is never
// edited once released: changes come as a new version, defined once per driver side by side. Version
// 1 adopts the FastAPI tutorial's `users` table as it is, so a database that app wrote opens unchanged.
import { usersTable } from './001-users-table.js'
import { sessionsScopesKeys } from './002-sessions-scopes-keys.js'
import { throttleCounters } from './003-throttle.js'
import { usernameKeysAudit } from './004-username-keys-audit.js'
import { credentialsRetentionLeases } from './005-credentials-retention-leases.js'
import { issuers } from './006-issuers.js'
import { mail } from './007-mail.js'
import { mfa } from './008-mfa.js'
import { changeFeed } from './009-change-feed.js'
import { clients } from './010-clients.js'
import { changeFeedUsernames } from './011-change-feed-usernames.js'
import { changeFeedClients } from './012-change-feed-clients.js'
import { clientResources } from './013-client-resources.js'
import { uniqueAddresses } from './014-unique-addresses.js'
import type { Migration } from './migration.js'

export const migrations: readonly Migration[] = [
  usersTable,
  sessionsScopesKeys,
  throttleCounters,
  usernameKeysAudit,
  credentialsRetentionLeases,
  issuers,
  mail,
  mfa,
  changeFeed,
  clients,
  changeFeedUsernames,
  changeFeedClients,
  clientResources,
  uniqueAddresses,
]

/** The schema version this Gatehouse writes; a database at a newer one is refused. */
export const LATEST_SCHEMA_VERSION = migrations.at(-1)?.version ?? 0
