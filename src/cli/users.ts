// `gatehouse users ...`: add, list, passwd, disable, enable, remove, verify-email, import, scopes,
// mfa and mfa-reset. Changes go
// through the accounts use-case, which audits them under the CLI's actor (`cli:<os user>`).
import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import { DuplicateUser, InvalidInput, UserNotFound } from '../errors.js'
import type { Accounts } from '../services/accounts/accounts.js'
import type { PublicUser } from '../services/shared/public-user.js'
import { ADMIN_SCOPE } from '../services/scopes/scopes.js'
import { importUsers } from '../services/accounts/user-import.js'
import { readSourceUsers } from '../store/import-source.js'
import type { CliContext } from './context.js'
import { printable } from './terminal-text.js'

interface AddOptions {
  email?: string
  fullName?: string
  disabled?: boolean
  admin?: boolean
  passwordStdin?: boolean
}

export function registerUserCommands(program: Command, cli: CliContext): void {
  const { print, actor } = cli
  const users = program.command('users').description('manage users')

  users
    .command('add <username>')
    .description('create a user (prompts for the password unless --password-stdin)')
    .option('--email <email>', 'email address')
    .option('--full-name <name>', 'full name')
    .option('--disabled', 'create the account disabled')
    .option('--admin', 'also grant the admin scope (the admin API); there are no default accounts')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, options: AddOptions) => {
      const password = await cli.readPassword(options.passwordStdin, true)
      await cli.withServices(async ({ accounts, config }) => {
        const scopes = options.admin ? [...config.defaultScopes, ADMIN_SCOPE] : undefined
        const account = {
          username,
          password,
          email: options.email,
          fullName: options.fullName,
          disabled: options.disabled,
          scopes,
        }
        const user = await accounts.add(account, actor).catch(async (error: unknown) => {
          throw await explainDuplicate(error, username, accounts)
        })
        const admin = options.admin ? ' with the admin scope' : ''
        print(
          `Created user '${printable(user.username)}'${admin}${user.disabled ? ' (disabled)' : ''}.`,
        )
      })
    })

  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await cli.withServices(async ({ accounts }) => {
        const all = await accounts.list()
        // JSON.stringify escapes control characters itself.
        print(options.json ? JSON.stringify(all, null, 2) : formatUsers(all))
      })
    })

  users
    .command('passwd <username>')
    .description("set a user's password (prompts unless --password-stdin)")
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, options: { passwordStdin?: boolean }) => {
      const password = await cli.readPassword(options.passwordStdin, true)
      await cli.withServices(async ({ accounts }) => {
        await accounts.setPassword(username, password, actor)
        print(`Password of '${printable(username)}' changed.`)
      })
    })

  for (const [name, description, done] of [
    ['disable', 'disable a user: no more logins, and existing tokens stop working', 'disabled'],
    ['enable', 'enable a disabled user', 'enabled'],
    ['remove', 'delete a user', 'removed'],
  ] as const) {
    users
      .command(`${name} <username>`)
      .description(description)
      .action(async (username: string) => {
        await cli.withServices(async ({ accounts }) => {
          if (name === 'remove') await accounts.remove(username, actor)
          else await accounts.setDisabled(username, name === 'disable', actor)
          print(`User '${printable(username)}' ${done}.`)
        })
      })
  }

  users
    .command('verify-email <username>')
    .description("mark a user's e-mail address verified, as if they had followed the link")
    .action(async (username: string) => {
      await cli.withServices(async ({ recovery }) => {
        await recovery.markVerified(username, actor)
        print(`The e-mail address of '${printable(username)}' is verified.`)
      })
    })

  users
    .command('import')
    .description(
      'copy users and their password hashes from another database; existing usernames are skipped',
    )
    .requiredOption(
      '--from <url>',
      'the source database, e.g. sqlite:///users.db or postgresql://... (read-only, never migrated)',
    )
    .option('--dry-run', 'report what would be imported, write no user')
    .option(
      '--emails-unverified',
      'imported addresses await verification (default: they count as verified)',
    )
    .action(async (options: { from: string; dryRun?: boolean; emailsUnverified?: boolean }) => {
      const { io } = cli
      const source = await readSourceUsers(options.from, io.cwd)
      await cli.withServices(async ({ store, events }) => {
        const bar = io.stderr.isTTY
          ? new cliProgress.SingleBar({
              stream: io.stderr,
              format: 'Importing users [{bar}] {value}/{total}',
              clearOnComplete: true,
              hideCursor: true,
            })
          : undefined
        bar?.start(source.length, 0)
        const report = await importUsers(source, store, {
          dryRun: options.dryRun,
          emailsUnverified: options.emailsUnverified,
          onProgress: (done) => bar?.update(done),
          audit: { events, actor },
        }).finally(() => bar?.stop())
        // After the bar, which would otherwise overwrite them.
        for (const conflict of report.conflicts) {
          const who = printable(conflict.username ?? '')
          io.stderr.write(`gatehouse: not imported '${who}': ${printable(conflict.reason)}\n`)
        }
        const summary = `imported ${report.imported}, skipped ${report.skippedExisting} existing, ${report.conflicts.length} conflicts`
        print(options.dryRun ? `${summary} (dry run: nothing was written)` : summary)
      })
    })

  users
    .command('scopes <username> [scopes...]')
    .description('show the scopes granted to a user, or grant exactly the given ones')
    .option('--default', 'go back to the default scopes (DEFAULT_SCOPES)')
    .action(async (username: string, granted: string[], options: { default?: boolean }) => {
      if (options.default && granted.length > 0) {
        throw new InvalidInput('give scopes or --default, not both')
      }
      await cli.withServices(async ({ accounts }) => {
        const effective = options.default
          ? await accounts.setScopes(username, null, actor)
          : granted.length > 0
            ? await accounts.setScopes(username, granted, actor)
            : await accounts.scopesOf(username)
        print(`${printable(username)}: ${effective.join(' ') || '(no scopes)'}`)
      })
    })

  users
    .command('mfa <username>')
    .description("show a user's second factors")
    .action(async (username: string) => {
      await cli.withServices(async ({ mfa }) => {
        const status = await mfa.statusOf(username)
        const codes =
          status.totp === 'confirmed' ? `, ${status.recovery_codes_left} recovery codes left` : ''
        print(`${printable(username)}: TOTP ${status.totp}${codes}`)
      })
    })

  users
    .command('mfa-reset <username>')
    .description(
      "remove a user's second factors and recovery codes (who lost them all), ending their sessions",
    )
    .action(async (username: string) => {
      await cli.withServices(async ({ mfa }) => {
        await mfa.reset(username, actor)
        print(`Second factors of '${printable(username)}' removed; their sessions ended.`)
      })
    })
}

/** A username taken in another case is news to most people: say that the comparison ignores case. */
async function explainDuplicate(error: unknown, username: string, accounts: Accounts) {
  if (!(error instanceof DuplicateUser) || error.field !== 'username') return error
  const sameSpelling = await accounts.get(username.normalize('NFKC')).then(
    () => true,
    (lookup: unknown) => {
      if (lookup instanceof UserNotFound) return false
      throw lookup
    },
  )
  if (sameSpelling) return error
  return new InvalidInput(
    `A user with this username already exists in another case or form: usernames are case-insensitive, so '${printable(username)}' is taken`,
  )
}

function formatUsers(users: PublicUser[]): string {
  if (users.length === 0) return 'No users yet. Add one with: gatehouse users add <username>'
  const rows = [
    ['USERNAME', 'EMAIL', 'FULL NAME', 'STATUS'],
    ...users.map((u) => [
      printable(u.username),
      printable(u.email ?? ''),
      printable(u.full_name ?? ''),
      u.disabled ? 'disabled' : 'active',
    ]),
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
