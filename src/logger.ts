// Structured logs (pino). Requests are logged as method, path and client address only: never
// headers (Authorization), query strings or bodies, so no token or password can reach a log line.
import { pino, type DestinationStream, type Logger } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { LogLevel } from './config.js'

/**
 * Without a destination, logs go to stdout asynchronously (sonic-boom), so a slow terminal or pipe never
 * blocks a request; what is buffered is flushed when the process exits.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  if (!destination && level !== 'silent') {
    const stdout = pino.destination({ dest: 1, sync: false })
    process.once('exit', () => {
      try {
        stdout.flushSync()
      } catch {
        // Nothing more can be done for the last lines of a dying process.
      }
    })
    destination = stdout
  }
  return pino(
    {
      level,
      serializers: {
        req: (request: FastifyRequest) => ({ method: request.method, path: request.url.split('?', 1)[0], remoteAddress: request.ip }),
        res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
      },
      // A second net for fields a future log call might pass by mistake.
      redact: { paths: ['password', 'hashedPassword', 'token', '*.password', '*.hashedPassword', '*.token'], censor: '[redacted]' },
    },
    destination,
  )
}
