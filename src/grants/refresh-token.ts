// grant_type=refresh_token (RFC 6749 §6): a single-use refresh token rotated into a new one; a
// spent one presented again ends its session (reuse detection, in the sessions use-case).
import type { Sessions } from '../services/sessions/sessions.js'
import { requiredParameter, type Grant } from './grant.js'

export function refreshTokenGrant(sessions: Sessions): Grant {
  return {
    type: 'refresh_token',
    summary:
      '`grant_type=refresh_token` with `refresh_token` (single use: presenting it twice ends its session)',
    parameters: ['refresh_token', 'scope'],
    exchange: (form, client, oauthClient) =>
      sessions.refresh(requiredParameter(form, 'refresh_token'), form.scope, client, oauthClient),
  }
}
