// grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code (Auth0's MFA API): completes a
// password login that answered `mfa_required` with one of the user's single-use recovery codes.
import type { Mfa } from '../services/mfa/mfa.js'
import { requiredParameter, type Grant } from './grant.js'

export function mfaRecoveryCodeGrant(mfa: Mfa): Grant {
  return {
    type: 'http://auth0.com/oauth/grant-type/mfa-recovery-code',
    summary:
      '`grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code` with `mfa_token` and `recovery_code` (spent by the login)',
    // The second step of a password login: a client allowed the password grant may complete it.
    clientGrant: 'password',
    parameters: ['mfa_token', 'recovery_code', 'client_id'],
    // The mfa_token is bound to the client of the password step: the one that authenticated, or
    // the client_id it named.
    exchange: (form, client, oauthClient) =>
      mfa.completeWithRecoveryCode(
        requiredParameter(form, 'mfa_token'),
        requiredParameter(form, 'recovery_code'),
        oauthClient?.id ?? form.client_id,
        client,
        oauthClient,
      ),
  }
}
