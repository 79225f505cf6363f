// The answer of a successful token request (RFC 6749 §5.1), whichever grant made it: sessions
// (password, refresh, second factor) and clients (client_credentials) both build it.

export interface TokenResponse {
  access_token: string
  token_type: 'bearer'
  expires_in: number
  /** Absent for client_credentials (RFC 6749 §4.4.3). */
  refresh_token?: string
  /** Present when the granted scope differs from the requested one (RFC 6749 §5.1). */
  scope?: string
}
