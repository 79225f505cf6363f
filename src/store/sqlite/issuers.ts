// The SQLite side of IssuerStore: the issuers instances sign under, recorded once each.
import type Database from 'better-sqlite3'
import type { IssuerStore } from '../contract.js'

export function createSqliteIssuerStore(db: Database.Database): IssuerStore {
  const statements = {
    recordIssuer: db.prepare<[string, number]>(
      'INSERT INTO gatehouse_issuers (issuer, recorded_at) VALUES (?, ?) ON CONFLICT (issuer) DO NOTHING',
    ),
    issuers: db.prepare<[], { issuer: string }>(
      'SELECT issuer FROM gatehouse_issuers ORDER BY recorded_at, issuer',
    ),
  }
  return {
    async recordIssuer(issuer, now) {
      statements.recordIssuer.run(issuer, now)
    },
    async listIssuers() {
      return statements.issuers.all().map((row) => row.issuer)
    },
  }
}
