// The grant registry: the one list of grant types. The token endpoint's dispatch and form schema, its
// OpenAPI text, RFC 8414's `grant_types_supported`, the grants a client may be registered for (the
// clients use-case, the admin API, the CLI's help) are all built from it. A new grant is one module
// and one line in GRANTS. Client rules are data here and enforced by the clients use-case (compose.ts
// hands them over): services may not import grants, and every entry point must register alike.
import type { TUnsafe } from 'typebox'
import { UnsupportedGrantType } from '../errors.js'
import type { ClientGrantRule } from '../services/clients/clients.js'
import { clientCredentialsGrant } from './client-credentials.js'
import type { Grant, TokenForm } from './grant.js'
import { mfaOtpGrant } from './mfa-otp.js'
import { mfaRecoveryCodeGrant } from './mfa-recovery-code.js'
import { passwordGrant } from './password.js'
import { refreshTokenGrant } from './refresh-token.js'
import { buildTokenFormSchema } from './token-form.js'

export {
  requestedResource,
  requiredParameter,
  type Grant,
  type GrantServices,
  type TokenForm,
  type TokenRequest,
} from './grant.js'

/** Every grant, in the order they are documented. */
export const GRANTS: readonly Grant[] = [
  passwordGrant,
  refreshTokenGrant,
  mfaOtpGrant,
  mfaRecoveryCodeGrant,
  clientCredentialsGrant,
]

/** A request without grant_type logs in: FastAPI's OAuth2PasswordRequestForm makes it optional. */
const DEFAULT_GRANT_TYPE = 'password'

export interface GrantRegistry {
  /** Every grant, in the order they are documented. */
  readonly all: readonly Grant[]
  /** The grant for a `grant_type`; UnsupportedGrantType for any other. */
  get(type: string): Grant
  /** The `grant_type` of a request that names none. */
  readonly defaultType: string
  /** RFC 8414 `grant_types_supported`. */
  readonly types: readonly string[]
  /** The token endpoint's form body: every grant's parameters and client authentication. */
  readonly formSchema: TUnsafe<TokenForm>
  /** The token endpoint's OpenAPI text: one line per grant. */
  readonly description: string
  /** Each grant's client rule, for the clients use-case (which may not import this registry). */
  readonly clientRules: readonly ClientGrantRule[]
  /** The grants a client may be registered for. */
  readonly registrable: readonly string[]
}

/** The grants a client may be registered for: the others are allowed by one of these. */
export function registrableGrantTypes(grants: readonly Grant[] = GRANTS): string[] {
  return grants.filter((grant) => grant.clients.allowedBy === undefined).map((grant) => grant.type)
}

/** The registry of these grants (tests pass a longer list); refuses a list that contradicts itself. */
export function createGrantRegistry(grants: readonly Grant[] = GRANTS): GrantRegistry {
  const byType = new Map(grants.map((grant) => [grant.type, grant]))
  if (byType.size !== grants.length) throw new Error('Two grants have the same grant_type')
  const registrable = registrableGrantTypes(grants)
  for (const grant of grants) {
    const allowedBy = grant.clients.allowedBy
    if (allowedBy !== undefined && !registrable.includes(allowedBy))
      throw new Error(`grant '${grant.type}' is allowed by '${allowedBy}', not a registrable grant`)
  }
  return {
    all: grants,
    get(type) {
      const grant = byType.get(type)
      if (!grant) throw new UnsupportedGrantType(type)
      return grant
    },
    defaultType: DEFAULT_GRANT_TYPE,
    types: grants.map((grant) => grant.type),
    formSchema: buildTokenFormSchema(grants, DEFAULT_GRANT_TYPE),
    description: grants.map((grant) => `- ${grant.summary}`).join('\n'),
    clientRules: grants.map((grant) => ({ type: grant.type, ...grant.clients })),
    registrable,
  }
}
