// grant_type=client_credentials (RFC 6749 §4.4): a confidential client registered for it, authenticated
// at the token endpoint, gets an access token of its own (subject: the client), without a refresh token.
import type { Clients } from '../services/clients/clients.js'
import type { Grant } from './grant.js'

export function clientCredentialsGrant(clients: Clients): Grant {
  return {
    type: 'client_credentials',
    summary:
      '`grant_type=client_credentials` for a confidential client (HTTP Basic or `client_id` + `client_secret`): a token for the client itself, no refresh token',
    parameters: ['scope'],
    exchange: (form, client, oauthClient) => clients.issueToken(oauthClient, form.scope, client),
  }
}
