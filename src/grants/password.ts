// grant_type=password (RFC 6749 §4.3): username and password, checked through the login use-case.
import { Type } from 'typebox'
import { requiredParameter, type Grant } from './grant.js'
import { ClientIdParameter, ScopeParameter } from './parameters.js'

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
    // Names the client an mfa_token and the session are bound to, even one not authenticated.
    client_id: ClientIdParameter,
  },
  // Public and confidential clients; a client registered without a list of grants logs users in.
  clients: { byDefault: true },
  exchange: ({ form, client, oauthClient }, { login }) =>
    login(
      {
        username: requiredParameter(form, 'username'),
        password: requiredParameter(form, 'password'),
        scope: form.scope,
        clientId: form.client_id,
      },
      client,
      oauthClient,
    ),
}
