// grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code (Auth0's MFA API): completes a
// password login that answered `mfa_required` with one of the user's single-use recovery codes.
import type { Mfa } from '../services/mfa.js'
import { requiredParameter, type Grant } from './grant.js'

export function mfaRecoveryCodeGrant(mfa: Mfa): Grant {
  return {
    type: 'http://auth0.com/oauth/grant-type/mfa-recovery-code',
    summary:
      '`grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code` with `mfa_token` and `recovery_code` (spent by the login)',
    parameters: ['mfa_token', 'recovery_code', 'client_id'],
    exchange: (form, client) =>
      mfa.completeWithRecoveryCode(
        requiredParameter(form, 'mfa_token'),
        requiredParameter(form, 'recovery_code'),
        form.client_id,
        client,
      ),
  }
}
