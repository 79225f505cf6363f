// Schema versions, applied in order by each driver inside one transaction. A version is never
// edited once released: changes come as a new version. Version 1 adopts the FastAPI tutorial's
// `users` table as it is, so a `users.db` that app wrote opens unchanged.
import type { Database } from 'better-sqlite3'
import { usersTable } from './001-users-table.js'
import { sessionsScopesKeys } from './002-sessions-scopes-keys.js'
import { throttleCounters } from './003-throttle.js'
import { usernameKeysAudit } from './004-username-keys-audit.js'

export interface Migration {
  version: number
  name: string
  sqlite(db: Database): void
}

export const migrations: readonly Migration[] = [usersTable, sessionsScopesKeys, throttleCounters, usernameKeysAudit]
