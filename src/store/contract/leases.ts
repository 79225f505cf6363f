// The leases part of the contract: which one instance of many runs a periodic job.

export interface LeaseStore {
  /**
   * Compare-and-set across processes: `holder` gets (or renews) the lease `name` until `now + ttlMs`
   * if nobody else holds it at `now`. True when it did.
   */
  takeLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>
}
