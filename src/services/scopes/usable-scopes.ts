// What a token may do now: its `scope`, bounded by every party that granted it. A token signed with
// more (a re-signed or forged claim, a key that leaked) gets no more than its session, its client and
// its user allow at this moment; one rule for the protected routes and for introspection.

/** The token's scopes that every bound allows (a null bound: that party sets none, e.g. no client). */
export function usableScopes(
  tokenScopes: readonly string[],
  bounds: readonly (readonly string[] | null)[],
): readonly string[] {
  const allowed = (scope: string) =>
    bounds.every((bound) => bound === null || bound.includes(scope))
  // The usual case, all allowed, keeps the token's own (frozen) list: nothing allocated per request.
  return tokenScopes.every(allowed) ? tokenScopes : tokenScopes.filter(allowed)
}
