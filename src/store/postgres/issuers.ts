// The PostgreSQL side of IssuerStore: the issuers instances sign under, recorded once each.
import type { IssuerStore } from '../contract.js'
import type { Database } from './database.js'

export function createPostgresIssuerStore({ query }: Database): IssuerStore {
  return {
    async recordIssuer(issuer, now) {
      await query(
        'INSERT INTO gatehouse_issuers (issuer, recorded_at) VALUES ($1, $2) ON CONFLICT (issuer) DO NOTHING',
        [issuer, now],
      )
    },
    async listIssuers() {
      const { rows } = await query<{ issuer: string }>(
        'SELECT issuer FROM gatehouse_issuers ORDER BY recorded_at, issuer',
      )
      return rows.map((row) => row.issuer)
    },
  }
}
