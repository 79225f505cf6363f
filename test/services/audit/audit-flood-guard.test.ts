import { join } from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import {
  AUDIT_FIELD_LIMITS,
  guardAuditFlood,
} from '../../../src/services/audit/audit-flood-guard.js'
import type { AuditEvent, NewAuditEvent } from '../../../src/store/contract.js'
import { openSqliteStore } from '../../../src/store/sqlite/index.js'
import { tempDir } from '../../helper.js'

const T0 = Date.UTC(2026, 0, 1)

function failedLogin(at: number, ip = '203.0.113.7'): NewAuditEvent {
  // What a junk /token request can put in a row: ~800 bytes of text of the attacker's choosing.
  return {
    at,
    type: 'login',
    outcome: 'bad_credentials',
    username: 'u'.repeat(256),
    ip,
    userAgent: 'a'.repeat(512),
    detail: 'd'.repeat(100),
  }
}

const textBytes = (event: AuditEvent): number =>
  [event.type, event.outcome, event.username, event.ip, event.userAgent, event.detail, event.actor]
    .map((text) => Buffer.byteLength(text ?? ''))
    .reduce((a, b) => a + b, 0)

describe('audit flood guard', () => {
  it('grows the audit log by a bounded amount under a flood of 5,000 junk failed logins', async () => {
    const store = openSqliteStore(join(tempDir(), 'users.db'))
    onTestFinished(() => store.close())
    const append = guardAuditFlood((event) => store.appendAudit(event), { perClientPerMinute: 10 })
    // 5,000 failures from one address over five minutes (one every 60 ms).
    for (let i = 0; i < 5_000; i++) await append(failedLogin(T0 + i * 60))
    await append.flush()

    const rows = await store.listAudit({ limit: 10_000 })
    // Per minute: the first 10 events and one summary.
    expect(rows.length).toBeLessThanOrEqual(5 * 11)
    const bytes = rows.map(textBytes).reduce((a, b) => a + b, 0)
    expect(bytes).toBeLessThan(5 * 11 * 1_100)
    const summaries = rows.filter((row) => row.detail?.includes('similar events suppressed'))
    expect(summaries).toHaveLength(5)
    const suppressed = summaries.map((row) => Number(/^(\d+) /.exec(row.detail!)?.[1]))
    expect(suppressed.reduce((a, b) => a + b, 0) + rows.length - summaries.length).toBe(5_000)
    expect(summaries[0]).toMatchObject({
      type: 'login',
      outcome: 'bad_credentials',
      ip: '203.0.113.7',
    })
  })

  it('counts each client address, and each type and outcome, on its own', async () => {
    const written: NewAuditEvent[] = []
    const append = guardAuditFlood(async (event) => void written.push(event), {
      perClientPerMinute: 2,
    })
    for (let i = 0; i < 5; i++) {
      await append(failedLogin(T0 + i, '198.51.100.1'))
      await append(failedLogin(T0 + i, '198.51.100.2'))
      await append({ ...failedLogin(T0 + i, '198.51.100.1'), outcome: 'throttled' })
    }
    expect(written).toHaveLength(6)
    await append.flush()
    expect(written.filter((event) => event.detail?.startsWith('3 similar'))).toHaveLength(3)
  })

  it('bounds the rows of a flood from many addresses, each within its own limit', async () => {
    const written: NewAuditEvent[] = []
    const append = guardAuditFlood(async (event) => void written.push(event), {
      perClientPerMinute: 10,
      totalPerMinute: 100,
    })
    // 20,000 addresses, three failures each, within one minute, then one more the next minute.
    for (let i = 0; i < 20_000; i++)
      for (let n = 0; n < 3; n++)
        await append(failedLogin(T0 + (i >> 9), `10.0.${i >> 8}.${i & 255}`))
    expect(written).toHaveLength(100)
    await append(failedLogin(T0 + 61_000, '192.0.2.1'))
    // The next minute writes again, after one summary of what the first one left out.
    expect(written).toHaveLength(102)
    expect(written[100]).toMatchObject({ type: 'login', outcome: 'bad_credentials', ip: null })
    expect(written[100]!.detail).toMatch(/^59900 similar events suppressed \(many clients/)
    expect(written[101]!.ip).toBe('192.0.2.1')
    await append.flush()
    expect(append.tracked()).toBe(0)
  })

  it('never holds back successes or the events a caller exempts', async () => {
    const written: NewAuditEvent[] = []
    const append = guardAuditFlood(async (event) => void written.push(event), {
      perClientPerMinute: 1,
      guards: (event) => event.type === 'login' && event.outcome !== 'success',
    })
    for (let i = 0; i < 5; i++) {
      await append({ ...failedLogin(T0 + i), outcome: 'success' })
      await append({ ...failedLogin(T0 + i), type: 'admin', outcome: 'disable' })
    }
    expect(written).toHaveLength(10)
  })

  it('cuts free text to fixed lengths, never inside a surrogate pair', async () => {
    const written: NewAuditEvent[] = []
    const append = guardAuditFlood(async (event) => void written.push(event), {
      perClientPerMinute: 10,
    })
    const limit = AUDIT_FIELD_LIMITS.detail
    await append({
      ...failedLogin(T0),
      detail: `${'x'.repeat(limit - 1)}😀tail`,
      actor: 'y'.repeat(999),
    })
    expect(written[0]!.username).toHaveLength(AUDIT_FIELD_LIMITS.username)
    expect(written[0]!.userAgent).toHaveLength(AUDIT_FIELD_LIMITS.userAgent)
    expect(written[0]!.detail).toBe('x'.repeat(limit - 1))
    expect(written[0]!.actor).toHaveLength(AUDIT_FIELD_LIMITS.actor)
  })

  it('tracks a bounded number of clients, summarising the oldest when it must forget one', async () => {
    const written: NewAuditEvent[] = []
    const append = guardAuditFlood(async (event) => void written.push(event), {
      perClientPerMinute: 1,
      totalPerMinute: 10_000,
      maxTracked: 100,
    })
    await append(failedLogin(T0, '10.0.0.1'))
    await append(failedLogin(T0, '10.0.0.1'))
    for (let i = 0; i < 1_000; i++) {
      await append(failedLogin(T0 + 1, `10.1.${i >> 8}.${i & 255}`))
      expect(append.tracked()).toBeLessThanOrEqual(100)
    }
    expect(
      written.filter((event) => event.ip === '10.0.0.1').map((event) => event.detail?.slice(0, 20)),
    ).toEqual(['d'.repeat(20), '1 similar events sup'])
  })

  it('writes the summary of a minute once a later event arrives', async () => {
    const append = vi.fn(async (_event: NewAuditEvent) => undefined)
    const guarded = guardAuditFlood(append, { perClientPerMinute: 1 })
    await guarded(failedLogin(T0))
    await guarded(failedLogin(T0 + 1_000))
    expect(append).toHaveBeenCalledTimes(1)
    await guarded(failedLogin(T0 + 61_000, '192.0.2.9'))
    expect(append.mock.calls.map(([event]) => event.ip)).toEqual([
      '203.0.113.7',
      '203.0.113.7',
      '192.0.2.9',
    ])
    expect(append.mock.calls[1]![0]).toMatchObject({ at: T0 + 60_000, username: null })
  })

  it("summarises a user's own changes per user and minute, apart from other users and sorts", async () => {
    const written: NewAuditEvent[] = []
    const append = guardAuditFlood(async (event) => void written.push(event), {
      perClientPerMinute: 10,
      perUser: {
        guards: (event) => event.type === 'profile_change' && event.outcome === 'success',
        perMinute: 1,
      },
    })
    const change = (at: number, username: string, ip: string, detail: string | null = null) =>
      append({
        at,
        type: 'profile_change',
        outcome: 'success',
        username,
        ip,
        userAgent: null,
        detail,
        actor: username,
      })
    // Alice changes her name from a new address each time: her address does not make her new.
    for (let i = 0; i < 8; i++) await change(T0 + i * 1_000, 'alice', `198.51.100.${i}`)
    await change(T0 + 9_000, 'alice', '198.51.100.1', 'email changed')
    for (let i = 0; i < 3; i++) await change(T0 + 10_000 + i, 'bob', '198.51.100.1')
    expect(written.map((event) => [event.username, event.detail])).toEqual([
      ['alice', null],
      ['alice', 'email changed'],
      ['bob', null],
    ])
    // A minute runs from a user's first change in it; a later change closes those that ended.
    await change(T0 + 71_000, 'bob', '198.51.100.1')
    expect(written.slice(3)).toEqual([
      {
        at: T0 + 60_000,
        type: 'profile_change',
        outcome: 'success',
        username: 'alice',
        ip: null,
        userAgent: null,
        detail: `7 similar events suppressed (same user, type, outcome and detail, in the minute from ${new Date(T0).toISOString()})`,
        actor: 'alice',
      },
      expect.objectContaining({ username: 'bob', ip: null }),
      expect.objectContaining({ username: 'bob', detail: null, ip: '198.51.100.1' }),
    ])
    expect(written[4]!.detail).toMatch(/^2 similar events suppressed \(same user/)
    await append.flush()
    expect(written).toHaveLength(6)
  })
})
