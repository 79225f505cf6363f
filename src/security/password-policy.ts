// Which new passwords are acceptable (OWASP ASVS V2.1, NIST SP 800-63B): long enough, at most 1024
// characters (refused, never truncated), any printable Unicode including spaces, no composition
// rules, and not one of the ~49,000 most common passwords (the list bundled with @zxcvbn-ts,
// checked offline) nor the user's own username or email.
import { dictionary } from '@zxcvbn-ts/language-common'
import { InvalidInput } from '../errors.js'

export const MAX_PASSWORD_LENGTH = 1_024

/** Lower-cased once, on first use: "Password1" is as common as "password1". */
let common: Set<string> | undefined

export interface PasswordRules {
  minLength: number
  /** Who the password is for: it may be neither. */
  username: string
  email?: string | null
}

/** Throws InvalidInput with a message a person can act on. */
export function checkNewPassword(password: string, rules: PasswordRules): void {
  // Length in characters as people count them (code points), after Unicode normalization.
  const length = [...password.normalize('NFC')].length
  if (length < rules.minLength) throw new InvalidInput(`The password must be at least ${rules.minLength} characters`)
  if (length > MAX_PASSWORD_LENGTH) throw new InvalidInput(`The password must be at most ${MAX_PASSWORD_LENGTH} characters`)
  if (/\p{Cc}/u.test(password)) throw new InvalidInput('The password must not contain control characters')
  const lowered = password.toLowerCase()
  if (lowered === rules.username.toLowerCase() || (rules.email && lowered === rules.email.toLowerCase())) {
    throw new InvalidInput('The password must not be the username or the email address')
  }
  common ??= new Set(dictionary['passwords-common'].map((entry) => entry.toLowerCase()))
  if (common.has(lowered)) throw new InvalidInput('This password is too common: it appears in lists of breached passwords')
}
