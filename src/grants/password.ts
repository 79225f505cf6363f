// grant_type=password (RFC 6749 §4.3): username and password, checked through the login use-case.
import type { Login } from '../services/login/login.js'
import { requiredParameter, type Grant } from './grant.js'

export function passwordGrant(login: Login): Grant {
  return {
    type: 'password',
    summary: '`grant_type=password` (the default) with `username` and `password`',
    parameters: ['username', 'password', 'scope'],
    exchange: (form, client, oauthClient) =>
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
}
