// grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code (Auth0's MFA API): completes a
// password login that answered `mfa_required` with one of the user's single-use recovery codes.
import { Type } from 'typebox'
import { requestedResource, requiredParameter, type Grant } from './grant.js'
import { ClientIdParameter, MfaTokenParameter, ResourceParameter } from './parameters.js'

export const mfaRecoveryCodeGrant: Grant = {
  type: 'http://auth0.com/oauth/grant-type/mfa-recovery-code',
  summary:
    '`grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code` with `mfa_token` and `recovery_code` (spent by the login)',
  parameters: {
    mfa_token: MfaTokenParameter,
    recovery_code: Type.String({
      maxLength: 64,
      description: "One of the user's single-use recovery codes",
    }),
    client_id: ClientIdParameter,
    resource: ResourceParameter,
  },
  // The second step of a password login: a client allowed the password grant may complete it.
  clients: { allowedBy: 'password' },
  // The mfa_token is bound to the client of the password step: the one that authenticated, or
  // the client_id it named.
  exchange: async ({ form, client, oauthClient }, { mfa, clients }) => {
    const mfaToken = requiredParameter(form, 'mfa_token')
    const secondFactor = requiredParameter(form, 'recovery_code')
    const resource = await requestedResource(form, clients)
    return mfa.completeWithRecoveryCode(
      mfaToken,
      secondFactor,
      oauthClient?.id ?? form.client_id,
      client,
      oauthClient,
      resource,
    )
  },
}
