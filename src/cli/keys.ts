// `gatehouse keys rotate`: a new signing key for RS256, ES256 and EdDSA tokens.
import type { Command } from 'commander'
import type { CliContext } from './context.js'

export function registerKeyCommands(program: Command, cli: CliContext): void {
  const keys = program
    .command('keys')
    .description('manage the signing keys of RS256, ES256 and EdDSA tokens')
  keys
    .command('rotate')
    .description('add a new signing key; older keys keep verifying until their tokens have expired')
    .action(async () => {
      await cli.withServices(async (services) => {
        const kid = await services.keys.rotate(cli.actor)
        cli.print(
          `New signing key ${kid}. Running servers switch to it within a minute; older keys retire when their tokens expire.`,
        )
      })
    })
}
