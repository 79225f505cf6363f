// What a verifier is configured with, and the check that refuses a configuration that would fail
// open or silently mean something else (an unknown revocation mode, missing client credentials, the
// removed `secret`) at construction, before any request is answered with it.
import type { RevocationEventsOptions } from './revocation-events.js'

/**
 * A confidential client registered at Gatehouse as a resource server
 * (`gatehouse clients add NAME --confidential --resource URI`).
 */
export interface ClientCredentials {
  clientId: string
  clientSecret: string
}

export type RevocationMode =
  | { mode: 'none' }
  | (ClientCredentials & {
      mode: 'introspect'
      /** How long a positive answer is trusted (default 5 s; 0: ask on every request). */
      cacheSeconds?: number
      /** Called with what an answer cannot say (once: tokens verified by introspection); never a secret. */
      onError?: (error: Error) => void
    })
  /** Learn of ended sessions from Gatehouse's revocation event stream: no call per request. */
  | RevocationEventsOptions

export interface GatehouseVerifierOptions {
  /** Gatehouse's base URL (its ISSUER), e.g. https://auth.example.com. */
  issuer: string
  /**
   * This service's own audience: its resource URI (RFC 8707), e.g. https://orders.example.com. A token
   * whose `aud` does not include it is refused. Default: Gatehouse's own audience (its issuer).
   */
  audience?: string
  /** Clock skew tolerated on exp and iat, in seconds (default 30, as Gatehouse). */
  clockToleranceSeconds?: number
  /**
   * Default `none`: a token is trusted until it expires. `introspect` and `events` carry client
   * credentials, with which tokens of an HS* Gatehouse (no published keys) are verified by introspection.
   */
  revocation?: RevocationMode
  /** For tests and proxies. */
  fetch?: typeof fetch
  /**
   * Headers added to each introspection call, asked per call: the W3C trace context of the request
   * being served (`traceparent`, `tracestate`), so that Gatehouse's spans join your trace. With
   * OpenTelemetry: `() => { const h = {}; propagation.inject(context.active(), h); return h }`.
   */
  introspectionHeaders?: () => Record<string, string>
}

const MODES = ['none', 'introspect', 'events']

const fail = (message: string): never => {
  throw new TypeError(`createGatehouseVerifier: ${message}`)
}

/** Throws a TypeError saying what to change; answers the revocation mode to use. */
export function checkVerifierOptions(options: GatehouseVerifierOptions): RevocationMode {
  // Options may come from JavaScript or an untyped configuration file: checked as unknown values.
  const given = options as unknown as Record<string, unknown>
  if ('secret' in given || 'algorithm' in given)
    fail(
      "the `secret` and `algorithm` options are gone: a service never needs Gatehouse's SECRET_KEY. " +
        "Give the verifier a confidential client's credentials (revocation mode 'introspect' or " +
        "'events'), with which tokens of an HS256/384/512 Gatehouse are verified by introspection, " +
        'or set an asymmetric ALGORITHM (EdDSA, ES256 or RS256) at Gatehouse, whose published keys ' +
        'the verifier then uses.',
    )
  if (typeof given.issuer !== 'string' || given.issuer === '')
    fail("`issuer` is required: Gatehouse's base URL (its ISSUER)")
  if (given.audience !== undefined && (typeof given.audience !== 'string' || given.audience === ''))
    fail("`audience` must be a non-empty string (this service's resource URI)")
  const revocation = (given.revocation ?? { mode: 'none' }) as Record<string, unknown>
  const mode = revocation.mode
  if (typeof mode !== 'string' || !MODES.includes(mode))
    fail(
      `unknown revocation mode ${JSON.stringify(mode)} (one of ${MODES.map((name) => `'${name}'`).join(', ')})`,
    )
  if (mode !== 'none')
    for (const field of ['clientId', 'clientSecret'])
      if (typeof revocation[field] !== 'string' || revocation[field] === '')
        fail(
          `revocation mode '${String(mode)}' needs \`clientId\` and \`clientSecret\`: a confidential ` +
            'client registered at Gatehouse (`gatehouse clients add NAME --confidential --resource URI`)',
        )
  return revocation as unknown as RevocationMode
}
