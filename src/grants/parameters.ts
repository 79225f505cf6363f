// Form parameters of the token endpoint that more than one grant reads, or that every request may
// carry (client authentication, RFC 6749 §2.3.1): declared once, since the /token form has one schema
// per name and the registry refuses two grants that declare a name differently.
import { Type } from 'typebox'

export const ScopeParameter = Type.String({
  maxLength: 1_024,
  description: 'Space-separated scopes; default: all granted',
})

export const MfaTokenParameter = Type.String({
  maxLength: 256,
  description: 'From the `mfa_required` answer of the password step, within 5 minutes',
})

/**
 * RFC 8707 §2: the resource server the access token is for, which becomes its `aud`. Only a resource
 * some client is registered for is accepted (`invalid_target` otherwise); without it the token is for
 * Gatehouse itself. Read by every grant that issues an access token (see `requestedResource`).
 */
export const ResourceParameter = Type.String({
  maxLength: 512,
  description:
    'RFC 8707: the URI of a registered resource server the access token is for (its `aud`); default: Gatehouse itself',
})

/** Read by client authentication on every request, and by the grants that bind to the client. */
export const ClientIdParameter = Type.String({
  maxLength: 256,
  description:
    'The registered client: alone for a public client, with `client_secret` for a confidential one (or use HTTP Basic)',
})

export const ClientSecretParameter = Type.String({
  maxLength: 256,
  format: 'password',
  description: "A confidential client's secret (`client_secret_post`)",
})
