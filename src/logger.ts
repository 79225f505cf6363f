// Structured logs (pino). Requests are logged as method, path and client address only: never
// headers (Authorization), query strings or bodies, so no token or password can reach a log line.
import { pino, type DestinationStream, type Logger } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { LogLevel } from './config.js'

/**
 * A second net for secrets a future log call might pass by mistake: the names they travel under, at
 * the top level and where headers, a body or a user would carry them (`req` has its serializer).
 * Exact paths, no wildcards: a `*.x` path makes pino inspect every field of every line (and of every
 * request's child logger), which cost about 5 µs per request, a tenth of the hot path.
 */
export const REDACTED_PATHS = [
  'password',
  'new_password',
  'current_password',
  'hashedPassword',
  'hashed_password',
  'token',
  'access_token',
  'refresh_token',
  'authorization',
  'headers.authorization',
  'body.password',
  'body.refresh_token',
  'user.hashedPassword',
]

/**
 * Without a destination, logs go to stdout asynchronously (sonic-boom), so a slow terminal or pipe never
 * blocks a request; what is buffered is flushed when the process exits.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  if (!destination && level !== 'silent') destination = asyncStdout()
  return pino(
    {
      level,
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          path: request.url.split('?', 1)[0],
          remoteAddress: request.ip,
        }),
        res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
      },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  )
}

/**
 * sonic-boom in its buffer mode, fed one Buffer per line. In its default string mode it measures the
 * text still waiting for a write on every new line (Buffer.byteLength flattens the concatenation), so
 * each line copied all the lines before it: 8 KB of garbage per request at the hot path's rate.
 */
function asyncStdout(): DestinationStream {
  const stdout = pino.destination({ dest: 1, sync: false, contentMode: 'buffer' })
  // Its typings only know strings; in buffer mode it takes Buffers.
  const write = stdout.write.bind(stdout) as unknown as (line: Buffer) => boolean
  process.once('exit', () => {
    try {
      stdout.flushSync()
    } catch {
      // Nothing more can be done for the last lines of a dying process.
    }
  })
  return { write: (line: string) => write(Buffer.from(line)) }
}
