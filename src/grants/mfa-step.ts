// The shape both MFA grants share (Auth0's MFA API): the second step of a password login that
// answered `mfa_required`, naming its `mfa_token` and one proof of the second factor.
import type { TString } from 'typebox'
import type { Mfa } from '../services/mfa/mfa.js'
import { requestedResource, requiredParameter, type Grant } from './grant.js'
import { ClientIdParameter, MfaTokenParameter, ResourceParameter } from './parameters.js'

export function mfaStepGrant(step: {
  type: string
  summary: string
  /** The form parameter carrying the proof, and its schema. */
  proof: { name: string; schema: TString }
  /** The use-case that checks the proof and completes the login. */
  complete: keyof Pick<Mfa, 'completeWithOtp' | 'completeWithRecoveryCode'>
}): Grant {
  return {
    type: step.type,
    summary: step.summary,
    parameters: {
      mfa_token: MfaTokenParameter,
      [step.proof.name]: step.proof.schema,
      client_id: ClientIdParameter,
      resource: ResourceParameter,
    },
    // The second step of a password login: a client allowed the password grant may complete it.
    clients: { allowedBy: 'password' },
    // The mfa_token is bound to the client of the password step: the one that authenticated, or
    // the client_id it named.
    exchange: async ({ form, client, oauthClient }, { mfa, clients }) => {
      const mfaToken = requiredParameter(form, 'mfa_token')
      const secondFactor = requiredParameter(form, step.proof.name)
      const resource = await requestedResource(form, clients)
      return mfa[step.complete](
        mfaToken,
        secondFactor,
        oauthClient?.id ?? form.client_id,
        client,
        oauthClient,
        resource,
      )
    },
  }
}
