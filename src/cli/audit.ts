// `gatehouse audit tail [-n N] [--follow]`: the newest security events, oldest first, and with
// --follow every new one as it is written (polled once a second, until Ctrl+C); `gatehouse audit
// prune`: the retention (AUDIT_RETENTION_DAYS) applied now.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { InvalidInput } from '../errors.js'
import type { AuditEntry } from '../services/audit/audit-log.js'
import type { CliContext } from './context.js'
import { printable } from './terminal-text.js'

const FOLLOW_POLL_MS = 1_000
/** Events read per poll while following; a burst larger than this shows its newest ones. */
const FOLLOW_BATCH = 1_000

export function registerAuditCommands(program: Command, cli: CliContext): void {
  const audit = program.command('audit').description('read and prune the audit log')

  audit
    .command('prune')
    .description(
      'delete audit events older than AUDIT_RETENTION_DAYS and ended sessions (the server also does, hourly)',
    )
    .action(async () => {
      await cli.withServices(async ({ maintenance, config }) => {
        const { auditEvents, sessions } = await maintenance.prune()
        cli.print(
          `Pruned ${auditEvents} audit events older than ${config.auditRetentionDays} days and ${sessions} ended sessions.`,
        )
      })
    })

  audit
    .command('tail')
    .description('print the newest security events, oldest first; --follow keeps printing new ones')
    .option('-n, --lines <count>', 'how many events', '20')
    .option('-f, --follow', 'keep printing events as they are written (Ctrl+C to stop)')
    .action(async (options: { lines: string; follow?: boolean }) => {
      const count = Number(options.lines)
      if (!Number.isInteger(count) || count < 1 || count > 10_000) {
        throw new InvalidInput('--lines must be a whole number from 1 to 10000')
      }
      await cli.withServices(async ({ auditLog }) => {
        const newest = (await auditLog.page({ limit: count })).reverse()
        for (const event of newest) cli.print(formatAuditEntry(event))
        let lastId = newest.at(-1)?.id ?? 0
        while (options.follow) {
          await sleep(FOLLOW_POLL_MS)
          const fresh = await auditLog.after(lastId, FOLLOW_BATCH)
          for (const event of fresh) cli.print(formatAuditEntry(event))
          lastId = fresh.at(-1)?.id ?? lastId
        }
      })
    })
}

function formatAuditEntry(event: AuditEntry): string {
  const who = event.username === null ? '-' : JSON.stringify(event.username)
  return [event.at, event.type, event.outcome, who, event.ip ?? '-', printable(event.detail ?? '')]
    .join('  ')
    .trimEnd()
}
