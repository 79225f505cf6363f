// grant_type=http://auth0.com/oauth/grant-type/mfa-otp (Auth0's MFA API): completes a password login
// that answered `mfa_required`, with its `mfa_token` and the current code of the user's authenticator.
import type { Mfa } from '../services/mfa.js'
import { requiredParameter, type Grant } from './grant.js'

export function mfaOtpGrant(mfa: Mfa): Grant {
  return {
    type: 'http://auth0.com/oauth/grant-type/mfa-otp',
    summary:
      '`grant_type=http://auth0.com/oauth/grant-type/mfa-otp` with `mfa_token` (from an `mfa_required` answer) and `otp` (the authenticator code)',
    parameters: ['mfa_token', 'otp', 'client_id'],
    exchange: (form, client) =>
      mfa.completeWithOtp(
        requiredParameter(form, 'mfa_token'),
        requiredParameter(form, 'otp'),
        form.client_id,
        client,
      ),
  }
}
