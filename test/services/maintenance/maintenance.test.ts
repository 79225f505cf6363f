import { join } from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { parseConfig } from '../../../src/config.js'
import {
  changeRetentionMs,
  createMaintenance,
  MAINTENANCE_LEASE,
} from '../../../src/services/maintenance/maintenance.js'
import type { NewSession, Store } from '../../../src/store/contract.js'
import { openPostgresStore } from '../../../src/store/postgres/index.js'
import { openSqliteStore } from '../../../src/store/sqlite/index.js'
import { tempDir } from '../../helper.js'
import { freshSchema, skipPostgres } from '../../support/postgres.js'

const DAY = 86_400_000
const log = { info: vi.fn(), error: vi.fn() }

/** An audit event `daysAgo` old, a session that ended long ago and one still running. */
async function seed(store: Store, now: number): Promise<void> {
  for (const daysAgo of [100, 95, 10, 0.5])
    await store.appendAudit({
      at: now - daysAgo * DAY,
      type: 'login',
      outcome: 'bad_credentials',
      username: 'x',
      ip: '192.0.2.1',
      userAgent: null,
      detail: null,
    })
  const user = await store.createUser({ username: 'alice', hashedPassword: 'h' })
  const session = (id: string, createdAt: number): NewSession => ({
    id,
    userId: user.id,
    scope: ['me'],
    createdAt,
    expiresAt: createdAt + 30 * DAY,
    userAgent: null,
    ip: null,
    refreshTokenHash: `r-${id}`,
  })
  await store.createSession(session('ended', now - 40 * DAY))
  await store.createSession(session('live', now - DAY))
}

describe('maintenance', () => {
  it('prunes audit events past the retention and ended sessions, once per interval across instances', async () => {
    const filename = join(tempDir(), 'users.db')
    const [one, two] = [openSqliteStore(filename), openSqliteStore(filename)]
    onTestFinished(async () => {
      await one.close()
      await two.close()
    })
    const now = Date.now()
    await seed(one, now)
    const options = {
      log,
      auditRetentionDays: 90,
      accessTokenTtlSeconds: 1_800,
      intervalMs: 3_600_000,
    }
    const a = createMaintenance({ ...options, store: one, holder: 'a' })
    const b = createMaintenance({ ...options, store: two, holder: 'b' })

    expect(await a.runOnce(now)).toEqual({ ran: true, auditEvents: 2, sessions: 1, changes: 0 })
    expect(await b.runOnce(now + 60_000)).toEqual({
      ran: false,
      auditEvents: 0,
      sessions: 0,
      changes: 0,
    })
    expect((await one.listAudit({ limit: 10 })).length).toBe(2)
    expect(await one.findRefreshToken('r-ended')).toBeUndefined()
    expect(await one.findRefreshToken('r-live')).toBeDefined()
    // The next interval belongs to whichever instance comes first.
    expect((await b.runOnce(now + 3_600_000)).ran).toBe(true)
    expect((await a.runOnce(now + 3_600_000 + 1)).ran).toBe(false)
  })

  it('runs on its timer once started, survives a failing run, and stops', async () => {
    // A fake clock: the runs come when the test moves time, and no run can come after stop unseen.
    vi.useFakeTimers()
    onTestFinished(() => void vi.useRealTimers())
    let runs = 0
    const store = {
      takeLease: vi.fn<Store['takeLease']>(async () => true),
      pruneAudit: vi.fn<Store['pruneAudit']>(async () => {
        runs++
        if (runs === 1) throw new Error('database away')
        return 0
      }),
      pruneSessions: vi.fn<Store['pruneSessions']>(async () => 0),
      pruneChanges: vi.fn<Store['pruneChanges']>(async () => 0),
    }
    const errors = vi.fn()
    const maintenance = createMaintenance({
      store,
      log: { info: vi.fn(), error: errors },
      auditRetentionDays: 1,
      accessTokenTtlSeconds: 1_800,
      intervalMs: 20,
      firstRunDelayMs: 0,
    })
    maintenance.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(runs).toBe(1)
    expect(errors).toHaveBeenCalledTimes(1)
    // The failed run stopped nothing: one run per interval from then on.
    await vi.advanceTimersByTimeAsync(40)
    expect(runs).toBe(3)
    await maintenance.stop()
    expect(errors).toHaveBeenCalledTimes(1)
    expect(store.takeLease.mock.calls[0]?.[0]).toBe(MAINTENANCE_LEASE)
    // A retention of one day prunes before now - 1 day: within what the database lets be deleted.
    const before = store.pruneAudit.mock.calls[1]![0]
    expect(Date.now() - before).toBeGreaterThanOrEqual(DAY)
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(runs).toBe(3)
  })

  it('keeps change-feed rows a day, and longer than an access token may still pass', async () => {
    expect(changeRetentionMs(30 * 60)).toBe(DAY)
    // Two days of tokens: two days, the clock leeway and a margin.
    expect(changeRetentionMs(2 * 86_400)).toBeGreaterThan(2 * DAY + 30_000)
    const store = {
      takeLease: vi.fn<Store['takeLease']>(async () => true),
      pruneAudit: vi.fn<Store['pruneAudit']>(async () => 0),
      pruneSessions: vi.fn<Store['pruneSessions']>(async () => 0),
      pruneChanges: vi.fn<Store['pruneChanges']>(async () => 0),
    }
    const now = Date.now()
    const maintenance = createMaintenance({
      store,
      log,
      auditRetentionDays: 90,
      accessTokenTtlSeconds: 2 * 86_400,
    })
    await maintenance.runOnce(now)
    expect(store.pruneChanges).toHaveBeenCalledWith(now - changeRetentionMs(2 * 86_400))
  })

  it('reads AUDIT_RETENTION_DAYS and MAINTENANCE_INTERVAL_MINUTES, refusing values out of range', () => {
    const secret = { SECRET_KEY: 'a'.repeat(64) }
    expect(parseConfig(secret)).toMatchObject({
      auditRetentionDays: 90,
      maintenanceIntervalMinutes: 60,
      auditEventsPerClientPerMinute: 20,
    })
    expect(parseConfig({ ...secret, AUDIT_RETENTION_DAYS: '7' }).auditRetentionDays).toBe(7)
    expect(() => parseConfig({ ...secret, AUDIT_RETENTION_DAYS: '0' })).toThrow(
      /AUDIT_RETENTION_DAYS/,
    )
    expect(() => parseConfig({ ...secret, MAINTENANCE_INTERVAL_MINUTES: '0' })).toThrow(
      /MAINTENANCE_INTERVAL_MINUTES/,
    )
  })

  describe.skipIf(skipPostgres)('on PostgreSQL', () => {
    it('lets one of two instances on one database take the lease and prune', async () => {
      const { url } = await freshSchema()
      const stores = [await openPostgresStore(url), await openPostgresStore(url)]
      onTestFinished(() => Promise.all(stores.map((store) => store.close())).then(() => undefined))
      const now = Date.now()
      await seed(stores[0]!, now)
      const runs = await Promise.all(
        stores.map((store, i) =>
          createMaintenance({
            store,
            log,
            auditRetentionDays: 90,
            accessTokenTtlSeconds: 1_800,
            holder: `i${i}`,
          }).runOnce(now),
        ),
      )
      expect(runs.filter((run) => run.ran)).toEqual([
        { ran: true, auditEvents: 2, sessions: 1, changes: 0 },
      ])
      expect(await stores[1]!.listAudit({ limit: 10 })).toHaveLength(2)
    })
  })
})
