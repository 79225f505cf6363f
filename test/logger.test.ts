import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger, REDACTED_PATHS, writeAccessLine } from '../src/logger.js'
import { captureLogs } from './helper.js'

/** An object with `secret` at `path` (dot-separated). */
function carrying(path: string, secret: string): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), secret) as Record<string, unknown>
}

describe('createLogger', () => {
  it('censors every listed path and keeps the fields beside it', () => {
    const logs = captureLogs()
    const logger = createLogger('info', logs.stream)
    for (const [index, path] of REDACTED_PATHS.entries())
      logger.info({ ...carrying(path, `secret-${index}`), kept: index }, 'line')
    const lines = logs
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines).toHaveLength(REDACTED_PATHS.length)
    for (const [index, line] of lines.entries()) {
      expect(JSON.stringify(line)).not.toContain(`secret-${index}`)
      expect(JSON.stringify(line)).toContain('[redacted]')
      expect(line.kept).toBe(index)
    }
  })

  it('censors the same paths in child loggers', () => {
    const logs = captureLogs()
    createLogger('info', logs.stream)
      .child({ reqId: 'req-1' })
      .info({ headers: { authorization: 'Bearer abc.def.ghi' } }, 'line')
    expect(logs.text()).not.toContain('abc.def.ghi')
    expect(logs.text()).toContain('"reqId":"req-1"')
  })

  it('writes the access line as valid JSON whatever the path, the client and the time hold', () => {
    const logs = captureLogs()
    const log = createLogger('info', logs.stream).child({ reqId: 'req-7' })
    const url = '/a"b\\c\n\u0001\u2028é?token=secret-in-query'
    writeAccessLine(log, {
      method: 'GET',
      url,
      remoteAddress: '"forged", \\x',
      statusCode: 404,
      responseTime: Number.NaN,
    })
    expect(logs.text().endsWith('\n')).toBe(true)
    expect(logs.text()).not.toContain('secret-in-query')
    expect(JSON.parse(logs.text())).toMatchObject({
      level: 30,
      reqId: 'req-7',
      req: { method: 'GET', path: url.split('?')[0], remoteAddress: '"forged", \\x' },
      res: { statusCode: 404 },
      responseTime: null,
      msg: 'request completed',
    })
  })

  it('writes no access line below info', () => {
    const logs = captureLogs()
    const entry = {
      method: 'GET',
      url: '/',
      remoteAddress: '::1',
      statusCode: 200,
      responseTime: 1,
    }
    writeAccessLine(createLogger('warn', logs.stream), entry)
    expect(logs.text()).toBe('')
  })

  it('writes every line to stdout, whole and in order, by the time the process exits', () => {
    // The built module (pretest): a real process, so the asynchronous stdout and its exit flush are the real ones.
    const logger = resolve(import.meta.dirname, '..', 'dist', 'logger.js')
    const script = `const { createLogger } = await import(${JSON.stringify(logger)}); const log = createLogger('info'); for (let i = 0; i < 5000; i++) log.info({ i }, 'línea ✓ ' + i); process.exit(0)`
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    expect(child.status).toBe(0)
    const lines = child.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; msg: string })
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: 5000 }, (_, i) => i))
    expect(lines.every((line) => line.msg === `línea ✓ ${line.i}`)).toBe(true)
  })
})
