// Bounds what clients can make the audit log write: per client address and kind of event (type and
// outcome), the first events of a minute are written, the rest only counted and summarised in one row;
// and over all clients at most `totalPerMinute` such events a minute are written, the rest summarised
// per kind (an attacker with many addresses). Events a caller marks as per user (a user's own
// changes) are counted per username instead, outside the total budget. Every free-text field is cut
// to a fixed length. Memory is bounded too: a capped map of open minutes.
import type { NewAuditEvent } from '../../store/contract.js'

export type AppendAudit = (event: NewAuditEvent) => Promise<void>

export interface GuardedAppend extends AppendAudit {
  /** Writes the summaries of every open minute now (e.g. at shutdown) and forgets them. */
  flush(): Promise<void>
  /** How many (client, type, outcome) minutes are tracked: never more than `maxTracked`. */
  tracked(): number
}

export interface AuditFloodGuardOptions {
  /** Events of one kind written per client and minute before the rest are summarised. */
  perClientPerMinute: number
  /** Guarded events written per minute over all clients (default 100 x perClientPerMinute). */
  totalPerMinute?: number
  /** Open minutes kept at most; the oldest is summarised and forgotten first (default 10,000). */
  maxTracked?: number
  /** Which events may be summarised (default: every outcome but `success`). */
  guards?: (event: NewAuditEvent) => boolean
  /** The client an address counts as (e.g. its IPv6 /64); default: the address itself. */
  clientOf?: (ip: string | null) => string
  /**
   * Events summarised per user (by `username`) rather than per client, `perMinute` of a kind written
   * per user and minute: a signed-in user's own changes, which come from any address they like.
   */
  perUser?: { guards: (event: NewAuditEvent) => boolean; perMinute: number }
}

const MINUTE_MS = 60_000

/** Longest stored text per field, in UTF-16 units: an event is at most a little over 1 KB of text. */
export const AUDIT_FIELD_LIMITS = {
  type: 64,
  outcome: 64,
  username: 128,
  ip: 64,
  userAgent: 256,
  detail: 256,
  actor: 128,
} as const

interface OpenMinute {
  start: number
  written: number
  suppressed: number
  sample: NewAuditEvent
  /** Counted per user (`perUser`) rather than per client. */
  byUser?: boolean
}

export function guardAuditFlood(
  append: AppendAudit,
  options: AuditFloodGuardOptions,
): GuardedAppend {
  const maxTracked = options.maxTracked ?? 10_000
  const guards = options.guards ?? ((event: NewAuditEvent) => event.outcome !== 'success')
  const clientOf = options.clientOf ?? ((ip: string | null) => ip ?? '')
  const totalPerMinute = options.totalPerMinute ?? 100 * options.perClientPerMinute
  const perUser = options.perUser
  // Insertion order is the order minutes opened, so the oldest are at the front.
  const minutes = new Map<string, OpenMinute>()
  /** The minute of the total budget: what it wrote, and by kind what it had to leave out. */
  let total = { start: Number.NEGATIVE_INFINITY, written: 0 }
  const overBudget = new Map<string, OpenMinute>()

  const summaryOf = (minute: OpenMinute, now: number): NewAuditEvent =>
    minute.byUser
      ? truncate({
          // The user is known and acted themselves; their addresses may have differed.
          at: Math.min(minute.start + MINUTE_MS, now),
          type: minute.sample.type,
          outcome: minute.sample.outcome,
          username: minute.sample.username,
          ip: null,
          userAgent: null,
          detail: `${minute.suppressed} similar events suppressed (same user, type, outcome and detail, in the minute from ${new Date(minute.start).toISOString()})${minute.sample.detail === null ? '' : `: ${minute.sample.detail}`}`,
          actor: minute.sample.actor,
        })
      : clientSummaryOf(minute, now)
  const clientSummaryOf = (minute: OpenMinute, now: number): NewAuditEvent => ({
    at: Math.min(minute.start + MINUTE_MS, now),
    type: minute.sample.type,
    outcome: minute.sample.outcome,
    username: null,
    ip: minute.sample.ip,
    userAgent: null,
    detail: `${minute.suppressed} similar events suppressed (same client, type and outcome, in the minute from ${new Date(minute.start).toISOString()})`,
    actor: null,
  })
  const totalSummaryOf = (minute: OpenMinute, now: number): NewAuditEvent => ({
    ...clientSummaryOf(minute, now),
    ip: null,
    detail: `${minute.suppressed} similar events suppressed (many clients: over ${totalPerMinute} a minute in all, in the minute from ${new Date(minute.start).toISOString()})`,
  })
  /** Ends the total budget's minute, summarising per kind what it left out. */
  const closeTotal = (summaries: NewAuditEvent[], now: number): void => {
    for (const minute of overBudget.values()) summaries.push(totalSummaryOf(minute, now))
    overBudget.clear()
  }

  /** Forgets the minute `key`, adding its summary to `summaries` when events were left out of it. */
  const close = (
    key: string,
    minute: OpenMinute,
    summaries: NewAuditEvent[],
    now: number,
  ): void => {
    minutes.delete(key)
    if (minute.suppressed > 0) summaries.push(summaryOf(minute, now))
  }

  const guarded = async (raw: NewAuditEvent): Promise<void> => {
    const event = truncate(raw)
    const byUser = perUser?.guards(event) === true
    if (!byUser && !guards(event)) return append(event)
    const summaries: NewAuditEvent[] = []
    // Minutes that have ended are summarised on the way, oldest first.
    for (const [key, minute] of minutes) {
      if (minute.start + MINUTE_MS > event.at) break
      close(key, minute, summaries, event.at)
    }
    if (event.at >= total.start + MINUTE_MS || event.at < total.start) {
      closeTotal(summaries, event.at)
      total = { start: event.at, written: 0 }
    }
    const kind = `${event.type}\n${event.outcome}`
    // A user's changes of different sorts (their name, their address) are summarised apart.
    const userKind = `${kind}\n${event.detail ?? ''}`
    if (!byUser && total.written >= totalPerMinute) {
      // Past the total budget the event counts only in its kind's summary, not in its client's.
      let over = overBudget.get(kind)
      if (!over)
        overBudget.set(kind, (over = { start: event.at, written: 0, suppressed: 0, sample: event }))
      over.suppressed++
      for (const summary of summaries) await append(summary)
      return
    }
    // The prefix keeps a username from ever counting as a client address, or the reverse.
    const key = byUser
      ? `user\n${event.username}\n${userKind}`
      : `ip\n${clientOf(event.ip)}\n${kind}`
    let minute = minutes.get(key)
    if (minute && (event.at >= minute.start + MINUTE_MS || event.at < minute.start)) {
      close(key, minute, summaries, event.at)
      minute = undefined
    }
    if (!minute) {
      const oldest = minutes.entries().next().value
      if (oldest && minutes.size >= maxTracked) close(oldest[0], oldest[1], summaries, event.at)
      minute = { start: event.at, written: 0, suppressed: 0, sample: event, byUser }
      minutes.set(key, minute)
    }
    const limit = perUser && byUser ? perUser.perMinute : options.perClientPerMinute
    const write = minute.written < limit
    if (write) {
      minute.written++
      if (!byUser) total.written++
    } else minute.suppressed++
    for (const summary of summaries) await append(summary)
    if (write) await append(event)
  }

  return Object.assign(guarded, {
    async flush() {
      const summaries: NewAuditEvent[] = []
      const now = Date.now()
      for (const [key, minute] of minutes) close(key, minute, summaries, now)
      closeTotal(summaries, now)
      for (const summary of summaries) await append(summary)
    },
    tracked: () => minutes.size,
  })
}

function truncate(event: NewAuditEvent): NewAuditEvent {
  return {
    at: event.at,
    type: cutText(event.type, AUDIT_FIELD_LIMITS.type),
    outcome: cutText(event.outcome, AUDIT_FIELD_LIMITS.outcome),
    username: cut(event.username, AUDIT_FIELD_LIMITS.username),
    ip: cut(event.ip, AUDIT_FIELD_LIMITS.ip),
    userAgent: cut(event.userAgent, AUDIT_FIELD_LIMITS.userAgent),
    detail: cut(event.detail, AUDIT_FIELD_LIMITS.detail),
    actor: cut(event.actor, AUDIT_FIELD_LIMITS.actor),
  }
}

function cut(text: string | null | undefined, limit: number): string | null {
  return text === null || text === undefined ? null : cutText(text, limit)
}

/** Cuts to `limit` UTF-16 units, never between the two halves of a surrogate pair. */
function cutText(text: string, limit: number): string {
  if (text.length <= limit) return text
  const code = text.charCodeAt(limit - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit)
}
