// How the list columns (scopes, a client's grants, a session's amr values) are read back: each holds
// its words in one space-separated string.

/** Scopes are stored as one space-separated string, as in a token's `scope` claim. */
export function splitScopes(text: string): string[] {
  return text.split(' ').filter((scope) => scope !== '')
}
