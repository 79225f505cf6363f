// grant_type=http://auth0.com/oauth/grant-type/mfa-otp (Auth0's MFA API): completes a password login
// that answered `mfa_required`, with its `mfa_token` and the current code of the user's authenticator.
import type { Mfa } from '../services/mfa/mfa.js'
import { requiredParameter, type Grant } from './grant.js'

export function mfaOtpGrant(mfa: Mfa): Grant {
  return {
    type: 'http://auth0.com/oauth/grant-type/mfa-otp',
    summary:
      '`grant_type=http://auth0.com/oauth/grant-type/mfa-otp` with `mfa_token` (from an `mfa_required` answer) and `otp` (the authenticator code)',
    // The second step of a password login: a client allowed the password grant may complete it.
    clientGrant: 'password',
    parameters: ['mfa_token', 'otp', 'client_id'],
    // The mfa_token is bound to the client of the password step: the one that authenticated, or
    // the client_id it named.
    exchange: (form, client, oauthClient) =>
      mfa.completeWithOtp(
        requiredParameter(form, 'mfa_token'),
        requiredParameter(form, 'otp'),
        oauthClient?.id ?? form.client_id,
        client,
        oauthClient,
      ),
  }
}
