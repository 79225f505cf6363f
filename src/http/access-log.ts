// Request logging: one access line per request (method, path, client, status, time) instead of
// Fastify's two, written pre-serialized (writeAccessLine): at the hot path's rates the second line
// cost about a third of the throughput, and pino's serializers and redaction most of the first.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { writeAccessLine } from '../logger.js'

export class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return
    // Errors are rare and carry an `err` to serialize: pino's path, with its serializers and redaction.
    if (error)
      reply.log.error(
        { req: request, res: reply, err: error, responseTime: reply.elapsedTime },
        'request errored',
      )
    else
      writeAccessLine(reply.log, {
        method: request.method,
        url: request.url,
        remoteAddress: request.ip,
        statusCode: reply.statusCode,
        responseTime: reply.elapsedTime,
      })
  }
}
