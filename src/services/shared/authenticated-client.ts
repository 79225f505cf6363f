// A registered OAuth client that proved who it is at the token endpoint (or a public client that
// named itself): clients/ establishes it; sessions, login and MFA bound what they grant by it.

export interface AuthenticatedClient {
  id: string
  confidential: boolean
  grants: readonly string[]
  scopes: readonly string[]
}
