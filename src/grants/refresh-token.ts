// grant_type=refresh_token (RFC 6749 §6): a single-use refresh token rotated into a new one; a
// spent one presented again ends its session (reuse detection, in the sessions use-case).
import { Type } from 'typebox'
import { requiredParameter, type Grant } from './grant.js'
import { ScopeParameter } from './parameters.js'

export const refreshTokenGrant: Grant = {
  type: 'refresh_token',
  summary:
    '`grant_type=refresh_token` with `refresh_token` (single use: presenting it twice ends its session)',
  parameters: {
    refresh_token: Type.String({
      maxLength: 512,
      description: 'The refresh token of the last answer (single use)',
    }),
    scope: ScopeParameter,
  },
  clients: { byDefault: true },
  exchange: ({ form, client, oauthClient }, { sessions }) =>
    sessions.refresh(requiredParameter(form, 'refresh_token'), form.scope, client, oauthClient),
}
