// grant_type=client_credentials (RFC 6749 §4.4): a confidential client registered for it, authenticated
// at the token endpoint, gets an access token of its own (subject: the client), without a refresh token.
import { requestedResource, type Grant } from './grant.js'
import { ResourceParameter, ScopeParameter } from './parameters.js'

export const clientCredentialsGrant: Grant = {
  type: 'client_credentials',
  summary:
    '`grant_type=client_credentials` for a confidential client (HTTP Basic or `client_id` + `client_secret`): a token for the client itself, no refresh token',
  parameters: { scope: ScopeParameter, resource: ResourceParameter },
  // The client is the subject: it must prove who it is, so it has a secret, and a request naming
  // none is invalid_client even where anonymous logins are allowed.
  clients: { confidentialOnly: true, clientRequired: true },
  exchange: async ({ form, client, oauthClient }, { clients }) => {
    const resource = await requestedResource(form, clients)
    return clients.issueToken(oauthClient, form.scope, client, resource)
  },
}
