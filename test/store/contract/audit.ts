// The audit part of the store contract: an append-only log, paged newest first, pruned but never
// within the deletion floor, whoever asks.
import { describe, expect, it } from 'vitest'
import { InvalidInput } from '../../../src/errors.js'
import { AUDIT_DELETE_FLOOR_MS, type Store } from '../../../src/store/contract.js'
import { HOUR, type StoreWithSql } from './fixtures.js'

export function auditContract(
  name: string,
  open: () => Promise<Store>,
  openWithSql: () => Promise<StoreWithSql>,
): void {
  describe(`${name} store contract: audit`, () => {
    it('appends audit events and lists them newest first, a page at a time', async () => {
      const store = await open()
      for (let i = 0; i < 5; i++) {
        await store.appendAudit({
          at: 1000 + i,
          type: 'login',
          outcome: i % 2 ? 'success' : 'bad_credentials',
          username: `u${i}`,
          ip: '127.0.0.1',
          userAgent: null,
          detail: null,
        })
      }
      const first = await store.listAudit({ limit: 2 })
      expect(first.map((e) => e.username)).toEqual(['u4', 'u3'])
      expect(first[0]).toMatchObject({
        at: 1004,
        type: 'login',
        outcome: 'bad_credentials',
        ip: '127.0.0.1',
        userAgent: null,
        detail: null,
      })
      const next = await store.listAudit({ limit: 10, before: first[1]!.id })
      expect(next.map((e) => e.username)).toEqual(['u2', 'u1', 'u0'])
    })

    it('records the actor of audit events, null when not given', async () => {
      const store = await open()
      const event = {
        at: Date.now(),
        type: 'admin',
        outcome: 'disable',
        username: 'root',
        ip: null,
        userAgent: null,
        detail: 'bob',
      }
      await store.appendAudit({ ...event, actor: 'cli:operator' })
      await store.appendAudit(event)
      expect((await store.listAudit({ limit: 2 })).map((e) => e.actor)).toEqual([
        null,
        'cli:operator',
      ])
    })

    it('prunes audit events older than a moment, in batches, and refuses to delete recent ones', async () => {
      const { store, sql } = await openWithSql()
      const now = Date.now()
      const old = now - 3 * 24 * HOUR
      await sql(
        `INSERT INTO gatehouse_audit (at, type, outcome)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
         SELECT ${old} + i, 'login', 'bad_credentials' FROM n`,
      )
      const recent = {
        at: now - HOUR,
        type: 'login',
        outcome: 'success',
        username: 'alice',
        ip: null,
        userAgent: null,
        detail: null,
      }
      await store.appendAudit(recent)
      await store.appendAudit({ ...recent, at: now - 2 * 24 * HOUR })
      expect(await store.pruneAudit(now - 2 * 24 * HOUR + 1)).toBe(2501)
      expect((await store.listAudit({ limit: 10 })).map((e) => e.at)).toEqual([now - HOUR])
      await expect(store.pruneAudit(now)).rejects.toBeInstanceOf(InvalidInput)
      await expect(store.pruneAudit(now - AUDIT_DELETE_FLOOR_MS + 60_000)).rejects.toBeInstanceOf(
        InvalidInput,
      )
      // The database itself refuses, whoever asks.
      await expect(sql('DELETE FROM gatehouse_audit')).rejects.toThrow(/append-only/)
      await expect(sql("UPDATE gatehouse_audit SET outcome = 'x'")).rejects.toThrow(/append-only/)
      expect(await store.listAudit({ limit: 10 })).toHaveLength(1)
    })
  })
}
