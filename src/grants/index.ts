// The grant registry: the token endpoint, RFC 8414's `grant_types_supported` and the OpenAPI text
// are all built from this list. A new grant is one module and one line here.
import { UnsupportedGrantType } from '../errors.js'
import { CLIENT_GRANT_TYPES, type Clients } from '../services/clients/clients.js'
import type { Login } from '../services/login/login.js'
import type { Mfa } from '../services/mfa/mfa.js'
import type { Sessions } from '../services/sessions/sessions.js'
import { clientCredentialsGrant } from './client-credentials.js'
import type { Grant } from './grant.js'
import { mfaOtpGrant } from './mfa-otp.js'
import { mfaRecoveryCodeGrant } from './mfa-recovery-code.js'
import { passwordGrant } from './password.js'
import { refreshTokenGrant } from './refresh-token.js'

export { requiredParameter, type Grant, type TokenForm } from './grant.js'

export interface GrantRegistry {
  /** The grant for a `grant_type`; UnsupportedGrantType for any other. */
  get(type: string): Grant
  /** Every grant, in the order they are documented. */
  readonly all: readonly Grant[]
}

export function createGrants(services: {
  login: Login
  sessions: Sessions
  mfa: Mfa
  clients: Clients
}): GrantRegistry {
  const all: readonly Grant[] = [
    passwordGrant(services.login),
    refreshTokenGrant(services.sessions),
    mfaOtpGrant(services.mfa),
    mfaRecoveryCodeGrant(services.mfa),
    clientCredentialsGrant(services.clients),
  ]
  const byType = new Map(all.map((grant) => [grant.type, grant]))
  // Clients are registered for the grants the clients service knows: both lists must be one.
  const registrable = new Set(all.map((grant) => grant.clientGrant ?? grant.type))
  if (
    registrable.size !== CLIENT_GRANT_TYPES.length ||
    !CLIENT_GRANT_TYPES.every((type) => registrable.has(type))
  )
    throw new Error(
      `CLIENT_GRANT_TYPES must list the registry's grants: ${[...registrable].join(', ')}`,
    )
  return {
    all,
    get(type) {
      const grant = byType.get(type)
      if (!grant) throw new UnsupportedGrantType(type)
      return grant
    },
  }
}
