// Entry point of the `gatehouse` command: serve, migrate, user management (import included) and
// hash-password, with the same configuration as the server. Every failure is one line on stderr and a non-zero exit, never a trace.
import type { Readable, Writable } from 'node:stream'
import cliProgress from 'cli-progress'
import { Command, CommanderError } from 'commander'
import { read } from 'read'
import { serveWithWorkers } from './cluster.js'
import { loadConfig, type Config } from './config.js'
import { GatehouseError, InvalidInput } from './errors.js'
import { createPasswordHasher, type PasswordHasher } from './security/passwords.js'
import { closeOnSignals, startServer } from './server.js'
import { createAccounts, type Accounts } from './services/accounts.js'
import type { PublicUser } from './services/public-user.js'
import { ADMIN_SCOPE, createScopeCatalog } from './services/scopes.js'
import { createKeyManager } from './services/signing-keys.js'
import { importUsers } from './services/user-import.js'
import { readSourceUsers } from './store/import-source.js'
import { openStore, type AuditEvent, type Store } from './store/index.js'
import { VERSION } from './version.js'

export interface CliIo {
  stdin: Readable & { isTTY?: boolean }
  stdout: Writable
  stderr: Writable & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  cwd: string
}

const defaultIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
})

/** Runs the command line `argv` (as in process.argv) and resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const print = (line: string): boolean => io.stdout.write(`${line}\n`)
  // Set by commands that finish with a code of their own (a cluster primary whose workers failed).
  let exitCode = 0
  const configFor = (persistGeneratedSecret = false): Config =>
    loadConfig({
      env: io.env,
      cwd: io.cwd,
      persistGeneratedSecret,
      onSecretGenerated: (file) => {
        if (file)
          io.stderr.write(
            `gatehouse: no SECRET_KEY was set; generated a random one and saved it to ${file}\n`,
          )
      },
    })
  const hasherFor = (config: Config): PasswordHasher =>
    createPasswordHasher({ concurrency: config.hashConcurrency, maxQueued: config.hashQueueMax })
  const withStore = async (run: (store: Store, config: Config) => Promise<void>): Promise<void> => {
    const config = configFor()
    const store = await openStore(config.databaseUrl, {
      cwd: io.cwd,
      poolSize: config.databasePoolSize,
    })
    try {
      await run(store, config)
    } finally {
      await store.close()
    }
  }
  const accountsFor = (store: Store, config: Config): Accounts =>
    createAccounts({
      store,
      hasher: hasherFor(config),
      scopes: createScopeCatalog(config.extraScopes, config.defaultScopes),
      passwordMinLength: config.passwordMinLength,
    })
  const withAccounts = (run: (accounts: Accounts) => Promise<void>): Promise<void> =>
    withStore((store, config) => run(accountsFor(store, config)))
  const readPassword = async (fromStdin: boolean | undefined, confirm: boolean): Promise<string> =>
    fromStdin ? readPasswordFromStdin(io.stdin) : promptPassword(io, confirm)

  const program = new Command('gatehouse')
    .description('OAuth2 password-flow authentication service')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError()

  program
    .command('serve')
    .description('run the HTTP server (configured by the environment and .env)')
    .option('--host <host>', 'address to listen on (HOST)')
    .option('--port <port>', 'port to listen on (PORT)')
    .option('--workers <n>', 'server processes sharing the port (WORKERS)')
    .action(async (options: { host?: string; port?: string; workers?: string }) => {
      const config = configFor(true)
      const overridden = loadOverrides(config, options)
      if (overridden.workers > 1) exitCode = await serveWithWorkers(overridden)
      else closeOnSignals(await startServer(overridden))
    })

  program
    .command('migrate')
    .description(
      'bring the database schema up to date (the server also does on start) and print its version',
    )
    .action(async () => {
      await withStore(async (store) => {
        print(`The database schema is at version ${await store.schemaVersion()}.`)
      })
    })

  const users = program.command('users').description('manage users')
  users
    .command('add <username>')
    .description('create a user (prompts for the password unless --password-stdin)')
    .option('--email <email>', 'email address')
    .option('--full-name <name>', 'full name')
    .option('--disabled', 'create the account disabled')
    .option('--admin', 'also grant the admin scope (the admin API); there are no default accounts')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      async (
        username: string,
        options: {
          email?: string
          fullName?: string
          disabled?: boolean
          admin?: boolean
          passwordStdin?: boolean
        },
      ) => {
        const password = await readPassword(options.passwordStdin, true)
        await withStore(async (store, config) => {
          const accounts = accountsFor(store, config)
          const scopes = options.admin ? [...config.defaultScopes, ADMIN_SCOPE] : undefined
          const user = await accounts.add({
            username,
            password,
            email: options.email,
            fullName: options.fullName,
            disabled: options.disabled,
            scopes,
          })
          print(
            `Created user '${user.username}'${options.admin ? ' with the admin scope' : ''}${user.disabled ? ' (disabled)' : ''}.`,
          )
        })
      },
    )
  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withAccounts(async (accounts) => {
        const all = await accounts.list()
        print(options.json ? JSON.stringify(all, null, 2) : formatUsers(all))
      })
    })
  users
    .command('passwd <username>')
    .description("set a user's password (prompts unless --password-stdin)")
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, options: { passwordStdin?: boolean }) => {
      const password = await readPassword(options.passwordStdin, true)
      await withAccounts(async (accounts) => {
        await accounts.setPassword(username, password)
        print(`Password of '${username}' changed.`)
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
        await withAccounts(async (accounts) => {
          if (name === 'remove') await accounts.remove(username)
          else await accounts.setDisabled(username, name === 'disable')
          print(`User '${username}' ${done}.`)
        })
      })
  }

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
    .action(async (options: { from: string; dryRun?: boolean }) => {
      const source = await readSourceUsers(options.from, io.cwd)
      await withStore(async (store) => {
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
          onProgress: (done) => bar?.update(done),
        }).finally(() => bar?.stop())
        // After the bar, which would otherwise overwrite them.
        for (const conflict of report.conflicts)
          io.stderr.write(
            `gatehouse: not imported '${conflict.username ?? ''}': ${conflict.reason}\n`,
          )
        const summary = `imported ${report.imported}, skipped ${report.skippedExisting} existing, ${report.conflicts.length} conflicts`
        print(options.dryRun ? `${summary} (dry run: nothing was written)` : summary)
      })
    })

  users
    .command('scopes <username> [scopes...]')
    .description('show the scopes granted to a user, or grant exactly the given ones')
    .option('--default', 'go back to the default scopes (DEFAULT_SCOPES)')
    .action(async (username: string, granted: string[], options: { default?: boolean }) => {
      await withAccounts(async (accounts) => {
        if (options.default && granted.length > 0)
          throw new InvalidInput('give scopes or --default, not both')
        const effective = options.default
          ? await accounts.setScopes(username, null)
          : granted.length > 0
            ? await accounts.setScopes(username, granted)
            : await accounts.scopesOf(username)
        print(`${username}: ${effective.join(' ') || '(no scopes)'}`)
      })
    })

  const keys = program
    .command('keys')
    .description('manage the signing keys of RS256, ES256 and EdDSA tokens')
  keys
    .command('rotate')
    .description('add a new signing key; older keys keep verifying until their tokens have expired')
    .action(async () => {
      await withStore(async (store, config) => {
        const manager = await createKeyManager({
          algorithm: config.algorithm,
          secretKey: config.secretKey,
          signingKeyPem: config.signingKeyPem,
          store,
          accessTokenTtlSeconds: config.accessTokenExpireMinutes * 60,
        })
        const kid = await manager.rotate()
        print(
          `New signing key ${kid}. Running servers switch to it within a minute; older keys retire when their tokens expire.`,
        )
      })
    })

  program
    .command('audit')
    .description('read the audit log')
    .command('tail')
    .description('print the newest security events, oldest first; --follow keeps printing new ones')
    .option('-n, --lines <count>', 'how many events', '20')
    .option('-f, --follow', 'keep printing events as they are written (Ctrl+C to stop)')
    .action(async (options: { lines: string; follow?: boolean }) => {
      const count = Number(options.lines)
      if (!Number.isInteger(count) || count < 1 || count > 10_000)
        throw new InvalidInput('--lines must be a whole number from 1 to 10000')
      await withStore(async (store) => {
        const newest = await store.listAudit({ limit: count })
        for (const event of newest.reverse()) print(formatAuditEvent(event))
        let lastId = newest.at(-1)?.id ?? 0
        while (options.follow) {
          await new Promise((resolve) => setTimeout(resolve, 1_000))
          const fresh = (await store.listAudit({ limit: 1_000 }))
            .filter((event) => event.id > lastId)
            .reverse()
          for (const event of fresh) print(formatAuditEvent(event))
          lastId = fresh.at(-1)?.id ?? lastId
        }
      })
    })

  program
    .command('hash-password')
    .description('print an argon2id hash of a password (prompts unless --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: { passwordStdin?: boolean }) => {
      const password = await readPassword(options.passwordStdin, false)
      if (password === '') throw new InvalidInput('The password must not be empty')
      print(await hasherFor(configFor()).hash(password))
    })

  try {
    await program.parseAsync(argv)
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode
    io.stderr.write(
      `gatehouse: ${error instanceof GatehouseError ? error.message : String(error)}\n`,
    )
    return 1
  }
}

function loadOverrides(
  config: Config,
  options: { host?: string; port?: string; workers?: string },
): Config {
  const port = options.port === undefined ? config.port : Number(options.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new InvalidInput(`--port must be a port number; got '${options.port}'`)
  const workers = options.workers === undefined ? config.workers : Number(options.workers)
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw new InvalidInput(
      `--workers must be a whole number from 1 to 64; got '${options.workers}'`,
    )
  return { ...config, host: options.host ?? config.host, port, workers }
}

async function readPasswordFromStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer))
  // One trailing newline is the end of the line, not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
}

async function promptPassword(io: CliIo, confirm: boolean): Promise<string> {
  if (!io.stdin.isTTY)
    throw new InvalidInput('no terminal to ask for the password on: use --password-stdin')
  const ask = (prompt: string): Promise<string> =>
    read({ prompt, silent: true, replace: '', input: io.stdin, output: io.stderr })
  const password = await ask('Password: ')
  if (confirm && (await ask('Repeat password: ')) !== password)
    throw new InvalidInput('the passwords do not match')
  return password
}

function formatAuditEvent(event: AuditEvent): string {
  const who = event.username === null ? '-' : JSON.stringify(event.username)
  return [
    new Date(event.at).toISOString(),
    event.type,
    event.outcome,
    who,
    event.ip ?? '-',
    event.detail ?? '',
  ]
    .join('  ')
    .trimEnd()
}

function formatUsers(users: PublicUser[]): string {
  if (users.length === 0) return 'No users yet. Add one with: gatehouse users add <username>'
  const rows = [
    ['USERNAME', 'EMAIL', 'FULL NAME', 'STATUS'],
    ...users.map((u) => [
      u.username,
      u.email ?? '',
      u.full_name ?? '',
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
