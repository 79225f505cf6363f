// The kit's RFC 7662 client: asks Gatehouse whether a token is live now and what it stands for, with
// the client's credentials, and keeps live answers a few seconds per token. A question Gatehouse does
// not answer is a 503 (unreachable), never a pass.
import type { JWTPayload } from 'jose'
import { unreachable } from './bearer-error.js'

export interface IntrospectionClient {
  /** The claims of a live access token as Gatehouse states them; null for anything else. */
  ask(token: string): Promise<JWTPayload | null>
  /** Same, a live answer reused for `cacheSeconds` (0: always asked). */
  askCached(token: string, cacheSeconds: number): Promise<JWTPayload | null>
}

export interface IntrospectionClientDeps {
  /** The introspection endpoint (from the issuer's metadata); rejects when it cannot be learnt. */
  endpoint: () => Promise<string>
  /** The `Authorization` header value (HTTP Basic with the client's credentials). */
  authorization: string
  fetch: typeof fetch
  /** Extra headers per call (trace context); they never replace the two above. */
  headers?: () => Record<string, string>
}

/** Live answers kept at most; beyond it the oldest goes first. */
const MAX_CACHED = 10_000

export function createIntrospectionClient(deps: IntrospectionClientDeps): IntrospectionClient {
  const ask = async (token: string): Promise<JWTPayload | null> => {
    let answer: Record<string, unknown>
    try {
      const response = await deps.fetch(await deps.endpoint(), {
        method: 'POST',
        headers: {
          ...deps.headers?.(),
          'content-type': 'application/x-www-form-urlencoded',
          authorization: deps.authorization,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      })
      if (!response.ok) throw new Error(`introspection: HTTP ${response.status}`)
      answer = (await response.json()) as Record<string, unknown>
    } catch {
      throw unreachable()
    }
    if (typeof answer !== 'object' || answer === null || answer.active !== true) return null
    const { active: _active, token_type: type, username: _username, ...claims } = answer
    // A live refresh token is not a bearer token: it must not open a route.
    if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer'))
      return null
    return claims
  }

  const live = new Map<string, { until: number; claims: JWTPayload }>()
  return {
    ask,
    async askCached(token, cacheSeconds) {
      const cached = live.get(token)
      if (cached && cached.until > Date.now()) return cached.claims
      live.delete(token)
      const claims = await ask(token)
      if (claims !== null && cacheSeconds > 0) {
        if (live.size >= MAX_CACHED) live.delete(live.keys().next().value!)
        live.set(token, { until: Date.now() + cacheSeconds * 1000, claims })
      }
      return claims
    },
  }
}
