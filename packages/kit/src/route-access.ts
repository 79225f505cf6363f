// How the adapters read `requireScopes(verifier, ...scopes)` and `requireScopes(verifier, ...scopes,
// { allowClients: true })`: the scopes a route requires, then what else it accepts (by default only
// users' tokens). Shared by the Express, Fastify and Hono adapters.
import type { AccessOptions } from './verify.js'

/** The arguments after the verifier: scopes, optionally followed by the route's access options. */
export type ScopeArguments = string[] | [...scopes: string[], access: AccessOptions]

export function readScopeArguments(args: ScopeArguments): {
  scopes: string[]
  access: AccessOptions
} {
  const last: unknown = args.at(-1)
  const access = typeof last === 'object' && last !== null ? (last as AccessOptions) : undefined
  const scopes: unknown[] = access ? args.slice(0, -1) : args
  // Checked when the route is declared, not at its first request.
  for (const scope of scopes)
    if (typeof scope !== 'string' || scope === '' || /\s/.test(scope))
      throw new TypeError(
        `requireScopes: a scope is a non-empty word, got ${JSON.stringify(scope)}`,
      )
  return { scopes: scopes as string[], access: access ?? {} }
}
