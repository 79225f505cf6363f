// Entry point of the `gatehouse` command: serve, migrate, users, clients, keys, audit and hash-password, one
// module per command group in cli/, all on the server's configuration and services. Every failure
// is one line on stderr and a non-zero exit, never a trace.
import { Command, CommanderError } from 'commander'
import { registerAuditCommands } from './cli/audit.js'
import { registerClientCommands } from './cli/clients.js'
import { createCliContext, type CliIo } from './cli/context.js'
import { registerHashPasswordCommand } from './cli/hash-password.js'
import { registerKeyCommands } from './cli/keys.js'
import { registerServeCommands } from './cli/serve.js'
import { printable } from './cli/terminal-text.js'
import { registerUserCommands } from './cli/users.js'
import { GatehouseError } from './errors.js'
import { VERSION } from './version.js'

export type { CliIo } from './cli/context.js'

const defaultIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
})

/** Runs the command line `argv` (as in process.argv) and resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const cli = createCliContext(io)
  const program = new Command('gatehouse')
    .description('OAuth2 password-flow authentication service')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError()

  registerServeCommands(program, cli)
  registerUserCommands(program, cli)
  registerKeyCommands(program, cli)
  registerClientCommands(program, cli)
  registerAuditCommands(program, cli)
  registerHashPasswordCommand(program, cli)

  try {
    await program.parseAsync(argv)
    return cli.exitCode
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode
    const message = error instanceof GatehouseError ? error.message : String(error)
    io.stderr.write(`gatehouse: ${printable(message)}\n`)
    return 1
  }
}
