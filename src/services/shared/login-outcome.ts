// How a failed password check is named in the audit log (bad_credentials, throttled, ...): the
// password login, its second step and the password re-checks of accounts and MFA all say it alike.
import { GatehouseError, type ErrorCode } from '../../errors.js'

/** How a failed login is recorded; other failures are recorded as `error`. */
const OUTCOMES: Partial<Record<ErrorCode, string>> = {
  invalid_credentials: 'bad_credentials',
  inactive_user: 'inactive',
  throttled: 'throttled',
  overloaded: 'overloaded',
  throttle_unavailable: 'overloaded',
  invalid_request: 'invalid_request',
  invalid_scope: 'invalid_request',
  mfa_required: 'mfa_required',
  unverified_email: 'unverified_email',
}

export function loginOutcome(error: unknown): string {
  return (error instanceof GatehouseError && OUTCOMES[error.code]) || 'error'
}
