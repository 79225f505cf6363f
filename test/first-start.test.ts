import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { saveGeneratedSecret } from '../src/first-start.js'
import { loadConfig } from '../src/config.js'
import { tempDir } from './helper.js'

describe('the first start of gatehouse serve', () => {
  it('generates a 256-bit SECRET_KEY, saves it to .env with mode 0600, and only once', () => {
    const dir = tempDir()
    writeFileSync(join(dir, '.env'), 'PORT=9000')
    expect(saveGeneratedSecret(dir, {})).toBe(join(dir, '.env'))
    const first = loadConfig({ cwd: dir, env: {} })
    expect(first.secretKey).toMatch(/^[0-9a-f]{64}$/)
    expect(statSync(join(dir, '.env')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, '.env'), 'utf8')).toContain('PORT=9000\n')

    expect(saveGeneratedSecret(dir, {})).toBeUndefined()
    const second = loadConfig({ cwd: dir, env: {} })
    expect(second.secretKey).toBe(first.secretKey)
    expect(second.port).toBe(9000)
  })

  it('writes nothing when the environment has a key, or in production', () => {
    const dir = tempDir()
    expect(saveGeneratedSecret(dir, { SECRET_KEY: 'x'.repeat(40) })).toBeUndefined()
    expect(saveGeneratedSecret(dir, { NODE_ENV: 'production' })).toBeUndefined()
    expect(() => statSync(join(dir, '.env'))).toThrow()
  })
})
