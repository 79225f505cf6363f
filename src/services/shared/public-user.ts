// The shape of a user that may leave Gatehouse (HTTP bodies, `request.user`, CLI listings):
// the tutorial's `User` model. The stored record, hash included, never crosses this line.
import type { UserRecord } from '../../store/contract.js'

export interface PublicUser {
  username: string
  email: string | null
  full_name: string | null
  disabled: boolean
  /** Added to the tutorial's four: the address was verified, or never needed to be (see 007-mail.ts). */
  email_verified: boolean
}

export function toPublicUser(
  user: Pick<UserRecord, 'username' | 'email' | 'fullName' | 'disabled' | 'emailVerified'>,
): PublicUser {
  return {
    username: user.username,
    email: user.email,
    full_name: user.fullName,
    disabled: user.disabled,
    email_verified: user.email !== null && user.emailVerified !== false,
  }
}

/** What the admin API shows of a user: the public fields and the granted scopes. */
export interface AdminUser extends PublicUser {
  scopes: string[]
}
