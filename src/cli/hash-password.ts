// `gatehouse hash-password`: an argon2id hash at the current policy, e.g. to put in a seed script.
import type { Command } from 'commander'
import { InvalidInput } from '../errors.js'
import { createPasswordHasher } from '../security/passwords.js'
import type { CliContext } from './context.js'

export function registerHashPasswordCommand(program: Command, cli: CliContext): void {
  program
    .command('hash-password')
    .description('print an argon2id hash of a password (prompts unless --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: { passwordStdin?: boolean }) => {
      const password = await cli.readPassword(options.passwordStdin, false)
      if (password === '') throw new InvalidInput('The password must not be empty')
      const config = cli.config()
      const hasher = createPasswordHasher({
        concurrency: config.hashConcurrency,
        maxQueued: config.hashQueueMax,
      })
      cli.print(await hasher.hash(password))
    })
}
