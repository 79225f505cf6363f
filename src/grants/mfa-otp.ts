// grant_type=http://auth0.com/oauth/grant-type/mfa-otp (Auth0's MFA API): completes a password login
// that answered `mfa_required`, with its `mfa_token` and the current code of the user's authenticator.
import { Type } from 'typebox'
import { requestedResource, requiredParameter, type Grant } from './grant.js'
import { ClientIdParameter, MfaTokenParameter, ResourceParameter } from './parameters.js'

export const mfaOtpGrant: Grant = {
  type: 'http://auth0.com/oauth/grant-type/mfa-otp',
  summary:
    '`grant_type=http://auth0.com/oauth/grant-type/mfa-otp` with `mfa_token` (from an `mfa_required` answer) and `otp` (the authenticator code)',
  parameters: {
    mfa_token: MfaTokenParameter,
    otp: Type.String({
      maxLength: 16,
      description: "The current code of the user's authenticator",
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
    const secondFactor = requiredParameter(form, 'otp')
    const resource = await requestedResource(form, clients)
    return mfa.completeWithOtp(
      mfaToken,
      secondFactor,
      oauthClient?.id ?? form.client_id,
      client,
      oauthClient,
      resource,
    )
  },
}
