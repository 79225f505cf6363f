// How the PostgreSQL driver's failures surface: a database that cannot be reached becomes
// DatabaseUnavailable (HTTP 503), never a hang or a bare pg error; anything else is left as it is.
import { DatabaseUnavailable, GatehouseError } from '../../errors.js'

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])
/** Server shutting down (admin, crash), not accepting connections yet, or out of connection slots. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
/** pg and pg-pool report a lost or never-made connection with these plain errors. */
const CONNECTION_MESSAGES = new Set([
  'timeout exceeded when trying to connect',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'Client has encountered a connection error and is not queryable',
])

/** Connection-level failures become DatabaseUnavailable (HTTP 503); anything else is left as it is. */
export function toStoreError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof GatehouseError) return error
  const code = (error as { code?: unknown }).code
  const connectionLevel =
    (typeof code === 'string' &&
      (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) ||
    CONNECTION_MESSAGES.has(error.message)
  if (!connectionLevel) return error
  // Node reports a refused connection to several addresses (localhost: ::1 and 127.0.0.1) without a message.
  return new DatabaseUnavailable(error.message || String(code), { cause: error })
}
