// What every command of the `gatehouse` CLI shares: its input and output, the configuration, the
// services wired by compose.ts on the configured database (closed when the command ends), prompts,
// and the actor its changes are audited under (`cli:<os user>`).
import { userInfo } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import { read } from 'read'
import { createServices, type Services } from '../compose.js'
import { loadConfig, type Config } from '../config.js'
import { InvalidInput } from '../errors.js'
import type { Actor } from '../services/shared/actor.js'
import { openStore } from '../store/open.js'

export interface CliIo {
  stdin: Readable & { isTTY?: boolean }
  stdout: Writable
  stderr: Writable & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  cwd: string
}

export interface CliContext {
  io: CliIo
  /** One line on standard output. */
  print: (line: string) => void
  /** The configuration from the environment and `.env` in the working directory. */
  config(): Config
  /** Runs `work` with the services on the configured database, closing both afterwards. */
  withServices(work: (services: Services) => Promise<void>): Promise<void>
  /** The password from standard input, or asked for on the terminal (twice when `confirm`). */
  readPassword(fromStdin: boolean | undefined, confirm: boolean): Promise<string>
  /** Who the audit log names for changes made here. */
  actor: Actor
  /** Set by commands that finish with an exit code of their own. */
  exitCode: number
}

/** Asked again this often when the two entries differ, then the command fails. */
const PASSWORD_ATTEMPTS = 3

export function createCliContext(io: CliIo): CliContext {
  const config = (): Config => loadConfig({ env: io.env, cwd: io.cwd })
  return {
    io,
    exitCode: 0,
    actor: { name: `cli:${osUser(io.env)}`, ip: null, userAgent: null },
    print: (line) => void io.stdout.write(`${line}\n`),
    config,
    async withServices(work) {
      const settings = config()
      const store = await openStore(settings.databaseUrl, {
        cwd: io.cwd,
        poolSize: settings.databasePoolSize,
      })
      try {
        const services = await createServices({ config: settings, store })
        try {
          await work(services)
        } finally {
          await services.close()
        }
      } finally {
        await store.close()
      }
    },
    readPassword: (fromStdin, confirm) =>
      fromStdin ? readPasswordFromStdin(io.stdin) : promptPassword(io, confirm),
  }
}

function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username
  } catch {
    // A container user without a passwd entry.
    return env.USER ?? String(process.getuid?.() ?? 'unknown')
  }
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
  if (!io.stdin.isTTY) {
    throw new InvalidInput('no terminal to ask for the password on: use --password-stdin')
  }
  const ask = async (prompt: string): Promise<string> => {
    const answer = await read({
      prompt,
      silent: true,
      replace: '',
      input: io.stdin,
      output: io.stderr,
    })
    // Nothing was echoed, not even the Enter key: end the prompt's line.
    io.stderr.write('\n')
    return answer
  }
  for (let attempt = 1; ; attempt++) {
    const password = await ask('Password: ')
    if (!confirm || (await ask('Repeat password: ')) === password) return password
    if (attempt === PASSWORD_ATTEMPTS) throw new InvalidInput('the passwords do not match')
    io.stderr.write('The passwords do not match; try again.\n')
  }
}
