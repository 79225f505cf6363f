import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger, REDACTED_PATHS } from '../src/logger.js'
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
