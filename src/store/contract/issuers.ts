// The issuers part of the contract: every issuer URL instances sign under, so that tokens from any
// of them are accepted by all.

export interface IssuerStore {
  /** Records an issuer that instances sign under (idempotent). */
  recordIssuer(issuer: string, now: number): Promise<void>
  /** Every issuer recorded, oldest first. */
  listIssuers(): Promise<string[]>
}
