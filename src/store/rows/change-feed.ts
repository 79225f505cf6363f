// The change-feed row and its mapping to Change.
import type { Change, ChangeKind } from '../contract.js'

export interface ChangeRow {
  id: number
  at: number
  kind: string
  user_id: number | null
  username: string | null
  session_id: string | null
  client_id: string | null
}

export function toChange(row: ChangeRow): Change {
  return {
    id: row.id,
    at: row.at,
    kind: row.kind as ChangeKind,
    userId: row.user_id,
    username: row.username,
    sessionId: row.session_id,
    clientId: row.client_id,
  }
}
