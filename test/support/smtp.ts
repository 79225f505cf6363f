// A real SMTP server on a local port (smtp-server, in the test process) that keeps what it receives,
// parsed by mailparser: mail tests go through nodemailer and a socket, never a mock transport.
import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import { onTestFinished } from 'vitest'

export interface TestSmtpServer {
  url: string
  messages: ParsedMail[]
  /** Resolves with the `count`-th message received (1-based), waiting up to `timeoutMs`. */
  nth(count: number, timeoutMs?: number): Promise<ParsedMail>
  /** Answers the next `times` messages with this SMTP code (e.g. 451 temporary, 550 permanent). */
  refuseNext(times: number, code: number): void
  close(): Promise<void>
}

/** Closed when the current test finishes, unless `shared` (started in beforeAll: the caller closes it). */
export async function startSmtpServer(
  options: { user?: string; password?: string; shared?: boolean } = {},
): Promise<TestSmtpServer> {
  const messages: ParsedMail[] = []
  const waiters: (() => void)[] = []
  let refusals: { times: number; code: number } = { times: 0, code: 0 }
  const server = new SMTPServer({
    // Plain SMTP on localhost: no certificate to trust in tests.
    disabledCommands: options.user ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.user,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password)
        callback(null, { user: auth.username })
      else callback(new Error('Invalid username or password'))
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          if (refusals.times > 0) {
            refusals.times--
            const error = Object.assign(new Error('refused for the test'), {
              responseCode: refusals.code,
            })
            callback(error)
            return
          }
          messages.push(parsed)
          callback()
          for (const wake of waiters.splice(0)) wake()
        },
        (error: Error) => callback(error),
      )
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo
  const auth = options.user ? `${options.user}:${options.password}@` : ''
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  if (!options.shared) onTestFinished(close)
  return {
    url: `smtp://${auth}127.0.0.1:${port}`,
    messages,
    async nth(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`no message #${count} within ${timeoutMs} ms`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 100)
        })
      }
      return messages[count - 1]!
    },
    refuseNext(times, code) {
      refusals = { times, code }
    },
    close,
  }
}
