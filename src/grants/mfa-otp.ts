// grant_type=http://auth0.com/oauth/grant-type/mfa-otp (Auth0's MFA API): completes a password login
// that answered `mfa_required`, with its `mfa_token` and the current code of the user's authenticator.
import { Type } from 'typebox'
import { mfaStepGrant } from './mfa-step.js'

export const mfaOtpGrant = mfaStepGrant({
  type: 'http://auth0.com/oauth/grant-type/mfa-otp',
  summary:
    '`grant_type=http://auth0.com/oauth/grant-type/mfa-otp` with `mfa_token` (from an `mfa_required` answer) and `otp` (the authenticator code)',
  proof: {
    name: 'otp',
    schema: Type.String({
      maxLength: 16,
      description: "The current code of the user's authenticator",
    }),
  },
  complete: 'completeWithOtp',
})
