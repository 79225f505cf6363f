// The second-factor part of the contract: TOTP factors, recovery codes and mfa_tokens.

/** A user's TOTP factor. Times are epoch milliseconds. */
export interface TotpFactorRecord {
  userId: number
  /** The base32 secret, sealed (security/sealing.ts): the store never sees it in clear. */
  sealedSecret: string
  createdAt: number
  /** Null while the enrolment awaits its first code. */
  confirmedAt: number | null
  /** The last time step a code was accepted for: a code of that step or an earlier one is a replay. */
  lastStep: number | null
}

/** The proof of a password that a second factor must complete (Auth0's `mfa_token`), stored hashed. */
export interface MfaTokenRecord {
  tokenHash: string
  userId: number
  /** The client the password grant was made by, when it said (`client_id`). */
  clientId: string | null
  /** The scope the password grant asked for. */
  scope: string | null
  /** A digest of the password hash that was verified, and the credential version it was verified at. */
  passwordDigest: string
  credentialVersion: number
  createdAt: number
  expiresAt: number
  spentAt: number | null
}

export interface MfaStore {
  findTotp(userId: number): Promise<TotpFactorRecord | undefined>
  /** Starts (or restarts) a pending enrolment; false, changing nothing, when a confirmed factor exists. */
  startTotp(userId: number, sealedSecret: string, now: number): Promise<boolean>
  /**
   * Confirms the pending enrolment of exactly `sealedSecret`, accepting `step`, and replaces the user's
   * recovery codes with these (hashed), in one transaction; false when there is no such pending one.
   */
  confirmTotp(
    userId: number,
    sealedSecret: string,
    step: number,
    recoveryCodeHashes: readonly string[],
    now: number,
  ): Promise<boolean>
  /** Accepts a code's time step for a confirmed factor only if it is later than any accepted before. */
  acceptTotpStep(userId: number, step: number): Promise<boolean>
  /**
   * Replaces the sealed secret `from` with `to` (the same seed sealed under a newer key); false,
   * changing nothing, when the factor holds another one by now.
   */
  resealTotp(userId: number, from: string, to: string): Promise<boolean>
  /** Removes the factor and the recovery codes; false when there was no factor. */
  removeTotp(userId: number): Promise<boolean>
  /** Spends an unused recovery code; false when it is not one of the user's unused codes. */
  spendRecoveryCode(userId: number, codeHash: string, now: number): Promise<boolean>
  countRecoveryCodes(userId: number): Promise<number>
  /** Stores an mfa_token (and forgets a few expired ones on the way). */
  createMfaToken(token: MfaTokenRecord): Promise<void>
  findMfaToken(tokenHash: string): Promise<MfaTokenRecord | undefined>
  /** Spends a live, unspent mfa_token: true for exactly one caller. */
  spendMfaToken(tokenHash: string, now: number): Promise<boolean>
}
