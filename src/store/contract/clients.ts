// The clients part of the contract: registered OAuth clients and their secrets.

/** A registered OAuth client (RFC 6749 §2). Times are epoch milliseconds. */
export interface ClientRecord {
  clientId: string
  name: string
  /** Confidential clients authenticate with a secret (RFC 6749 §2.1). */
  confidential: boolean
  /** SHA-256 of the secret (a 256-bit random value); null for a public client. */
  secretHash: string | null
  /** The grant types it may use. */
  grants: string[]
  /** The scopes it may ask for (and, with client_credentials, holds). */
  scopes: string[]
  /**
   * The resource URI it serves as a resource server (RFC 8707: tokens requested for it carry it as
   * `aud`); null for a client that is none. Unique among clients (the database refuses a second one).
   */
  resource: string | null
  createdAt: number
}

export interface ClientStore {
  createClient(client: ClientRecord): Promise<void>
  findClient(clientId: string): Promise<ClientRecord | undefined>
  /** Oldest first. */
  listClients(): Promise<ClientRecord[]>
  /**
   * Removes the client and, in the same transaction, revokes every active session opened through it
   * (its users' refresh and access tokens die with it). Undefined when there is no such client.
   */
  removeClient(clientId: string, now: number): Promise<{ sessionsEnded: number } | undefined>
  /** Replaces a confidential client's secret hash; false when there is no such client. */
  setClientSecret(clientId: string, secretHash: string): Promise<boolean>
}
