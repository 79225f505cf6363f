// The scope catalog (FastAPI's "OAuth2 scopes" chapter): which scopes exist, which a user holds, and
// what a token request may get. Unknown and not-granted scopes are refused, never silently dropped.
import { ConfigError, InvalidScope } from '../../errors.js'
import type { UserRecord } from '../../store/contract.js'

/** Scopes every Gatehouse has; more come from the SCOPES setting. */
export const BUILT_IN_SCOPES: Readonly<Record<string, string>> = {
  me: 'Read information about the current user.',
  items: 'Read items.',
  admin: 'Manage users and read the audit log.',
}

/** The scope of the admin API; granted only explicitly (`gatehouse users add --admin`). */
export const ADMIN_SCOPE = 'admin'

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

export interface ScopeCatalog {
  /** Name to description, for validation, the OpenAPI document and discovery. */
  readonly known: Readonly<Record<string, string>>
  granted(user: UserRecord): string[]
  /** The scopes a token gets: the requested ones if all are known and within `allowed`, else `allowed`. */
  resolve(requested: string | undefined, allowed: readonly string[]): string[]
  /** Throws InvalidScope unless every name is a known scope. */
  checkKnown(names: readonly string[]): void
}

export function createScopeCatalog(
  extra: Readonly<Record<string, string>>,
  defaults: readonly string[],
): ScopeCatalog {
  const known: Record<string, string> = { ...BUILT_IN_SCOPES, ...extra }
  for (const name of Object.keys(known)) {
    if (!SCOPE_TOKEN.test(name))
      throw new ConfigError(`SCOPES: '${name}' is not a valid scope name`)
  }
  const unknownDefault = defaults.find((name) => !Object.hasOwn(known, name))
  if (unknownDefault)
    throw new ConfigError(
      `DEFAULT_SCOPES: '${unknownDefault}' is not a known scope (known: ${Object.keys(known).join(', ')})`,
    )

  const checkKnown = (names: readonly string[]): void => {
    const unknown = names.find((name) => !Object.hasOwn(known, name))
    if (unknown !== undefined) throw new InvalidScope(`Unknown scope '${unknown.slice(0, 64)}'`)
  }

  return {
    known,
    checkKnown,
    granted: (user) => (user.scopes ?? [...defaults]).filter((name) => Object.hasOwn(known, name)),
    resolve(requested, allowed) {
      if (requested === undefined || requested.trim() === '') return [...allowed]
      const names = [...new Set(requested.split(' ').filter(Boolean))]
      checkKnown(names)
      const denied = names.find((name) => !allowed.includes(name))
      if (denied !== undefined) throw new InvalidScope(`Scope '${denied}' is not granted`)
      return names
    },
  }
}
