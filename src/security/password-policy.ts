// Which new passwords are acceptable (OWASP ASVS V2.1, NIST SP 800-63B): long enough, at most 1024
// characters (refused, never truncated), any printable Unicode including spaces, no composition
// rules, and not one of the ~49,000 most common passwords (the list bundled with @zxcvbn-ts,
// checked offline) nor the user's own username or email. Everything is judged on the password's NFKC
// form, which is what gets hashed (security/passwords.ts).
import { InvalidInput } from '../errors.js'

const MAX_PASSWORD_LENGTH = 1_024

/**
 * Loaded and lower-cased on first use ("Password1" is as common as "password1"): the list takes about
 * 15 MB, which a server that never sets a password does not need.
 */
let common: Promise<Set<string>> | undefined

const loadCommonPasswords = async (): Promise<Set<string>> => {
  const { dictionary } = await import('@zxcvbn-ts/language-common')
  return new Set(dictionary['passwords-common'].map((entry) => entry.toLowerCase()))
}

export interface PasswordRules {
  minLength: number
  /** Who the password is for: it may be neither. */
  username: string
  email?: string | null
}

/** Rejects with InvalidInput, with a message a person can act on. */
export async function checkNewPassword(typed: string, rules: PasswordRules): Promise<void> {
  const password = typed.normalize('NFKC')
  // Length in characters as people count them (code points), of the form that is hashed.
  const length = [...password].length
  if (length < rules.minLength)
    throw new InvalidInput(`The password must be at least ${rules.minLength} characters`)
  if (length > MAX_PASSWORD_LENGTH)
    throw new InvalidInput(`The password must be at most ${MAX_PASSWORD_LENGTH} characters`)
  if (/\p{Cc}/u.test(password))
    throw new InvalidInput('The password must not contain control characters')
  const lowered = password.toLowerCase()
  if (
    lowered === rules.username.normalize('NFKC').toLowerCase() ||
    (rules.email && lowered === rules.email.normalize('NFKC').toLowerCase())
  ) {
    throw new InvalidInput('The password must not be the username or the email address')
  }
  common ??= loadCommonPasswords()
  if ((await common).has(lowered))
    throw new InvalidInput('This password is too common: it appears in lists of breached passwords')
}
