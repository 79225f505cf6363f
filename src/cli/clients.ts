// `gatehouse clients ...`: add, list, show, remove and rotate-secret for registered OAuth clients.
// A confidential client's secret is printed once, at `add` or `rotate-secret`; only its hash is kept.
import type { Command } from 'commander'
import { registrableGrantTypes } from '../grants/index.js'
import type { ClientView } from '../services/clients/clients.js'
import type { CliContext } from './context.js'
import { printable } from './terminal-text.js'

interface AddOptions {
  confidential?: boolean
  grants?: string
  scopes?: string
  resource?: string
  json?: boolean
}

const words = (text: string, separator: RegExp): string[] =>
  text.split(separator).filter((word) => word !== '')

function describe(client: ClientView): string {
  return [
    `client_id:    ${printable(client.client_id)}`,
    `name:         ${printable(client.name)}`,
    `type:         ${client.confidential ? 'confidential' : 'public'}`,
    `grants:       ${client.grants.join(' ')}`,
    `scopes:       ${client.scopes.join(' ')}`,
    ...(client.resource === null ? [] : [`resource:     ${printable(client.resource)}`]),
    `created:      ${client.created_at}`,
  ].join('\n')
}

export function registerClientCommands(program: Command, cli: CliContext): void {
  const { print, actor } = cli
  const clients = program.command('clients').description('manage registered OAuth clients')

  clients
    .command('add <name>')
    .description('register a client; a confidential one gets a secret, printed once')
    .option('--confidential', 'a client that keeps a secret (a server), not a browser or app')
    .option(
      '--grants <list>',
      `grant types it may use, comma-separated: ${registrableGrantTypes().join(', ')}`,
    )
    .option(
      '--scopes <list>',
      'scopes it may ask for, space-separated (default DEFAULT_SCOPES; none for client_credentials)',
    )
    .option(
      '--resource <uri>',
      'register it as the resource server of this absolute URI (RFC 8707); confidential only',
    )
    .option('--json', 'print one JSON object with client_id and client_secret')
    .action(async (name: string, options: AddOptions) => {
      await cli.withServices(async (services) => {
        const { client, secret } = await services.clients.add(
          {
            name,
            confidential: options.confidential,
            grants: options.grants === undefined ? undefined : words(options.grants, /[\s,]+/),
            scopes: options.scopes === undefined ? undefined : words(options.scopes, /[\s,]+/),
            resource: options.resource,
          },
          actor,
        )
        if (options.json) {
          print(JSON.stringify({ ...client, client_secret: secret ?? null }))
          return
        }
        print(describe(client))
        if (secret !== undefined) {
          print(`client_secret: ${secret}`)
          print('The secret is shown only now: store it where the client can read it.')
        }
      })
    })

  clients
    .command('list')
    .description('list registered clients')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await cli.withServices(async (services) => {
        const all = await services.clients.list()
        if (options.json) return print(JSON.stringify(all, null, 2))
        if (all.length === 0) return print('No clients.')
        for (const client of all)
          print(
            `${printable(client.client_id)}  ${printable(client.name)}  ${client.confidential ? 'confidential' : 'public'}  ${client.grants.join(',')}  [${client.scopes.join(' ')}]`,
          )
      })
    })

  clients
    .command('show <client_id>')
    .description('show one client')
    .option('--json', 'print JSON')
    .action(async (clientId: string, options: { json?: boolean }) => {
      await cli.withServices(async (services) => {
        const client = await services.clients.show(clientId)
        print(options.json ? JSON.stringify(client, null, 2) : describe(client))
      })
    })

  clients
    .command('remove <client_id>')
    .description(
      'remove a client: its secret and tokens stop working, and the sessions opened through it end',
    )
    .action(async (clientId: string) => {
      await cli.withServices(async (services) => {
        const { sessionsEnded } = await services.clients.remove(clientId, actor)
        print(
          `Client '${printable(clientId)}' removed; ${sessionsEnded} session${sessionsEnded === 1 ? '' : 's'} opened through it ended.`,
        )
      })
    })

  clients
    .command('rotate-secret <client_id>')
    .description(
      'give a confidential client a new secret (printed once); the old one stops at once',
    )
    .option('--json', 'print one JSON object with client_id and client_secret')
    .action(async (clientId: string, options: { json?: boolean }) => {
      await cli.withServices(async (services) => {
        const secret = await services.clients.rotateSecret(clientId, actor)
        if (options.json)
          return print(JSON.stringify({ client_id: clientId, client_secret: secret }))
        print(`client_secret: ${secret}`)
        print('The secret is shown only now.')
      })
    })
}
