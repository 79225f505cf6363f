// `gatehouse serve` and `gatehouse migrate`. Serving is the one command that writes `.env`: on a
// first start without SECRET_KEY (outside production) it generates the keys and saves them there.
import type { Command } from 'commander'
import { serveWithWorkers } from '../cluster.js'
import { loadConfig } from '../config.js'
import { InvalidInput } from '../errors.js'
import { saveGeneratedSecrets } from '../first-start.js'
import { closeOnSignals, startServer } from '../server.js'
import type { CliContext } from './context.js'
import { printable } from './terminal-text.js'

interface ServeOptions {
  host?: string
  port?: string
  workers?: string
}

export function registerServeCommands(program: Command, cli: CliContext): void {
  program
    .command('serve')
    .description('run the HTTP server (configured by the environment and .env)')
    .option('--host <host>', 'address to listen on (HOST)')
    .option('--port <port>', 'port to listen on (PORT)')
    .option('--workers <n>', 'server processes sharing the port (WORKERS)')
    .action(async (options: ServeOptions) => {
      const { io } = cli
      const saved = saveGeneratedSecrets(io.cwd, io.env)
      if (saved) {
        io.stderr.write(
          `gatehouse: first start: saved ${saved.names.join(', ')} to ${saved.file}\n`,
        )
      }
      // The flags stand for their variables, so that everything derived from them (the default
      // ISSUER from HOST and PORT) follows.
      const config = loadConfig({ env: { ...io.env, ...flagVariables(options) }, cwd: io.cwd })
      if (config.workers > 1) cli.exitCode = await serveWithWorkers(config)
      else closeOnSignals(await startServer(config))
    })

  program
    .command('migrate')
    .description(
      'bring the database schema up to date (the server also does on start) and print its version',
    )
    .action(async () => {
      await cli.withServices(async ({ store }) => {
        cli.print(`The database schema is at version ${await store.schemaVersion()}.`)
        // Never merged: which of two accounts keeps an address is the operator's call.
        const colliding = await store.enforceUniqueEmails()
        if (colliding.length > 0) {
          cli.print(
            'These addresses differ only in case, so they are not yet unique case-insensitively; give each user their own and run `gatehouse migrate` again:',
          )
          for (const email of colliding) cli.print(`  ${printable(email)}`)
          cli.exitCode = 1
        }
      })
    })
}

function flagVariables(options: ServeOptions): Record<string, string> {
  const variables: Record<string, string> = {}
  if (options.host !== undefined) variables.HOST = options.host
  if (options.port !== undefined) {
    const port = Number(options.port)
    if (!/^\d+$/.test(options.port) || port > 65_535) {
      throw new InvalidInput(`--port must be a port number; got '${options.port}'`)
    }
    variables.PORT = options.port
  }
  if (options.workers !== undefined) {
    const workers = Number(options.workers)
    if (!/^\d+$/.test(options.workers) || workers < 1 || workers > 64) {
      throw new InvalidInput(
        `--workers must be a whole number from 1 to 64; got '${options.workers}'`,
      )
    }
    variables.WORKERS = options.workers
  }
  return variables
}
