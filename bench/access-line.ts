// `npx tsx bench/access-line.ts`: CPU time of one access line, by part, in this process (all threads:
// the asynchronous file writes run on libuv's pool). CPU time, not wall time, so that a busy machine
// changes the figures little. Lines go to a temporary file, as a server's stdout redirected to a log.
import { mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type DestinationStream } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { createLogger, writeAccessLine } from '../src/logger.js'

const LINES = 200_000
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-access-line-'))
const request = { method: 'GET', url: '/users/me/', ip: '127.0.0.1' } as FastifyRequest
const reply = { statusCode: 200, elapsedTime: 0.4321 } as FastifyReply

/** The server's stdout set-up (src/logger.ts), on a file, with or without batching. */
function fileDestination(
  name: string,
  minLength: number,
): {
  stream: DestinationStream
  drained: () => Promise<void>
} {
  const boom = pino.destination({
    dest: openSync(join(dir, name), 'w'),
    sync: false,
    contentMode: 'buffer',
    minLength,
  })
  const write = boom.write.bind(boom) as unknown as (line: Buffer) => boolean
  return {
    stream: { write: (line: string) => write(Buffer.from(line)) },
    drained: () => new Promise((resolve) => boom.flush(() => resolve())),
  }
}

async function time(name: string, minLength: number, run: (log: pino.Logger, i: number) => void) {
  const { stream, drained } = fileDestination(
    `${name.replace(/\W+/g, '-')}-${minLength}.log`,
    minLength,
  )
  const root = createLogger('info', stream)
  for (let i = 0; i < LINES / 10; i++) run(root, i)
  await drained()
  const start = process.cpuUsage()
  for (let i = 0; i < LINES; i++) {
    run(root, i)
    // Let the writes complete now and then, as a server's event loop does between requests.
    if (i % 64 === 0) await new Promise(setImmediate)
  }
  await drained()
  const used = process.cpuUsage(start)
  const ns = ((used.user + used.system) / LINES) * 1000
  console.log(
    `${name.padEnd(58)} ${String(minLength).padStart(5)}  ${ns.toFixed(0).padStart(6)} ns`,
  )
}

console.log(`${'per line'.padEnd(58)} ${'minLength'}  CPU time`)
for (const minLength of [0, 4096]) {
  await time('Fastify child logger {reqId}, no line', minLength, (root, i) => {
    root.child({ reqId: `req-${i}` }, {})
  })
  await time('child + info({ req, res, responseTime }) (before)', minLength, (root, i) => {
    root
      .child({ reqId: `req-${i}` }, {})
      .info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  })
  await time('child + writeAccessLine (after)', minLength, (root, i) => {
    writeAccessLine(root.child({ reqId: `req-${i}` }, {}), {
      method: request.method,
      url: request.url,
      remoteAddress: request.ip,
      statusCode: reply.statusCode,
      responseTime: reply.elapsedTime,
    })
  })
}
rmSync(dir, { recursive: true, force: true })
