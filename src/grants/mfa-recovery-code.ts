// grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code (Auth0's MFA API): completes a
// password login that answered `mfa_required` with one of the user's single-use recovery codes.
import { Type } from 'typebox'
import { mfaStepGrant } from './mfa-step.js'

export const mfaRecoveryCodeGrant = mfaStepGrant({
  type: 'http://auth0.com/oauth/grant-type/mfa-recovery-code',
  summary:
    '`grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code` with `mfa_token` and `recovery_code` (spent by the login)',
  proof: {
    name: 'recovery_code',
    schema: Type.String({
      maxLength: 64,
      description: "One of the user's single-use recovery codes",
    }),
  },
  complete: 'completeWithRecoveryCode',
})
