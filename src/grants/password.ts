// grant_type=password (RFC 6749 §4.3): username and password, checked through the login use-case.
import { Type } from 'typebox'
import { requestedResource, requiredParameter, type Grant } from './grant.js'
import { ClientIdParameter, ResourceParameter, ScopeParameter } from './parameters.js'

export const passwordGrant: Grant = {
  type: 'password',
  summary: '`grant_type=password` (the default) with `username` and `password`',
  parameters: {
    username: Type.String({ maxLength: 256, description: "The user's name" }),
    password: Type.String({
      maxLength: 4_096,
      format: 'password',
      description: "The user's password",
    }),
    scope: ScopeParameter,
    resource: ResourceParameter,
    // Names the client an mfa_token and the session are bound to, even one not authenticated.
    client_id: ClientIdParameter,
  },
  // Public and confidential clients; a client registered without a list of grants logs users in.
  clients: { byDefault: true },
  exchange: async ({ form, client, oauthClient }, { login, clients }) => {
    const username = requiredParameter(form, 'username')
    const password = requiredParameter(form, 'password')
    const resource = await requestedResource(form, clients)
    return login(
      { username, password, scope: form.scope, clientId: form.client_id, resource },
      client,
      oauthClient,
    )
  },
}
