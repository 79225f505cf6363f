// grant_type=refresh_token (RFC 6749 §6): a single-use refresh token rotated into a new one; a
// spent one presented again ends its session (reuse detection, in the sessions use-case).
import { Type } from 'typebox'
import { requestedResource, requiredParameter, type Grant } from './grant.js'
import { ResourceParameter, ScopeParameter } from './parameters.js'

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
    resource: ResourceParameter,
  },
  clients: { byDefault: true },
  // Without `resource` the refreshed token is for Gatehouse (the session does not remember the
  // login's resource): a client of a resource server names it on every refresh, as RFC 8707 §2.2 allows.
  exchange: async ({ form, client, oauthClient }, { sessions, clients }) => {
    const refreshToken = requiredParameter(form, 'refresh_token')
    const resource = await requestedResource(form, clients)
    return sessions.refresh(refreshToken, form.scope, client, oauthClient, resource)
  },
}
