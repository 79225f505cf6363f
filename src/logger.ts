// Structured logs (pino). Requests are logged as method, path and client address only: never
// headers (Authorization), query strings or bodies, so no token or password can reach a log line.
// Owns the line format, including the access line that is written pre-serialized (writeAccessLine).
import { pino, type DestinationStream, type Logger } from 'pino'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
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

/** One request's access line: only these fields, each a string or number taken from the request. */
export interface AccessEntry {
  method: string
  /** The URL as received; only the part before `?` is written. */
  url: string
  remoteAddress: string
  statusCode: number
  responseTime: number
}

/**
 * Writes the access line as pino would write `info({ req, res, responseTime }, 'request completed')`,
 * with the same fields and bindings, but as one string built here: pino's serializers and redaction
 * cost about 3 µs per request, and no field here can carry a secret (the query string is cut off,
 * each value is a plain string or number, JSON.stringify escapes them). `log` is the request's
 * logger, a pino child of createLogger's: its bindings (pid, hostname, reqId) were serialized once,
 * when Fastify created it.
 */
export function writeAccessLine(log: FastifyBaseLogger, entry: AccessEntry): void {
  const logger = log as Logger & PinoInternals
  if (!logger.isLevelEnabled('info')) return
  const query = entry.url.indexOf('?')
  const path = query === -1 ? entry.url : entry.url.slice(0, query)
  logger[pino.symbols.streamSym].write(
    `{"level":30${logger[pino.symbols.timeSym]()}${logger[pino.symbols.chindingsSym]}` +
      `,"req":{"method":${JSON.stringify(entry.method)},"path":${JSON.stringify(path)}` +
      `,"remoteAddress":${JSON.stringify(entry.remoteAddress)}},"res":{"statusCode":${entry.statusCode}}` +
      `,"responseTime":${Number.isFinite(entry.responseTime) ? entry.responseTime : null},"msg":"request completed"}\n`,
  )
}

/** pino's documented symbols (pino.symbols) for the parts of a line it has already serialized. */
interface PinoInternals {
  [pino.symbols.streamSym]: DestinationStream
  [pino.symbols.timeSym]: () => string
  [pino.symbols.chindingsSym]: string
}

/** Lines are written in batches of at least this many bytes (about 20 access lines)... */
const WRITE_BATCH_BYTES = 4096
/** ...or this often, whichever comes first, so that a quiet server's lines still show at once. */
const WRITE_INTERVAL_MS = 100

/**
 * sonic-boom in its buffer mode, fed one Buffer per line. In its default string mode it measures the
 * text still waiting for a write on every new line (Buffer.byteLength flattens the concatenation), so
 * each line copied all the lines before it: 8 KB of garbage per request at the hot path's rate.
 * Writes are batched: each one is a system call on libuv's thread pool and a callback on the event
 * loop, which cost more than the line itself when every request or two made one. A process killed
 * with SIGKILL loses at most the last WRITE_INTERVAL_MS of lines; a normal exit flushes them.
 */
function asyncStdout(): DestinationStream {
  const stdout = pino.destination({
    dest: 1,
    sync: false,
    contentMode: 'buffer',
    minLength: WRITE_BATCH_BYTES,
    periodicFlush: WRITE_INTERVAL_MS,
  })
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
