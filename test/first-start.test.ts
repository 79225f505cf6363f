import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createServices } from '../src/compose.js'
import { saveGeneratedSecret, saveGeneratedSecrets } from '../src/first-start.js'
import { loadConfig } from '../src/config.js'
import { openStore } from '../src/store/open.js'
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

  it('generates SEALING_KEY beside it and writes ALGORITHM=EdDSA: a new installation shares no key', async () => {
    const dir = tempDir()
    expect(saveGeneratedSecrets(dir, {})).toEqual({
      file: join(dir, '.env'),
      names: ['SECRET_KEY', 'SEALING_KEY', 'ALGORITHM=EdDSA'],
    })
    const config = loadConfig({ cwd: dir, env: {} })
    expect(config.algorithm).toBe('EdDSA')
    expect(config.sealingKey).toMatch(/^[0-9a-f]{64}$/)
    expect(config.sealingKey).not.toBe(config.secretKey)
    expect(saveGeneratedSecrets(dir, {})).toBeUndefined()

    // A fresh start just works: EdDSA keys are generated and kept in the database, no key file needed.
    const store = await openStore(config.databaseUrl, { cwd: dir })
    const services = await createServices({ config, store })
    try {
      expect(services.keys.jwks().keys).toHaveLength(1)
      expect(services.keys.jwks().keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
      expect(services.keys.current().signing.algorithm).toBe('EdDSA')
    } finally {
      await services.close()
      await store.close()
    }
  })

  it('works on a copy of .env.example: its empty SECRET_KEY and ALGORITHM count as unset', () => {
    const dir = tempDir()
    copyFileSync(join(import.meta.dirname, '..', '.env.example'), join(dir, '.env'))
    expect(saveGeneratedSecrets(dir, {})?.names).toEqual([
      'SECRET_KEY',
      'SEALING_KEY',
      'ALGORITHM=EdDSA',
    ])
    const config = loadConfig({ cwd: dir, env: {} })
    expect(config.algorithm).toBe('EdDSA')
    expect(config.sealingKey).toMatch(/^[0-9a-f]{64}$/)
  })

  it('honours an ALGORITHM set, writing none', () => {
    const dir = tempDir()
    writeFileSync(join(dir, '.env'), 'ALGORITHM=HS512\n')
    expect(saveGeneratedSecrets(dir, {})?.names).toEqual(['SECRET_KEY', 'SEALING_KEY'])
    expect(loadConfig({ cwd: dir, env: {} }).algorithm).toBe('HS512')
    const fromEnvironment = tempDir()
    expect(saveGeneratedSecrets(fromEnvironment, { ALGORITHM: 'RS256' })?.names).toEqual([
      'SECRET_KEY',
      'SEALING_KEY',
    ])
  })

  it('adds only SEALING_KEY to a .env that has a SECRET_KEY (an older installation): HS256 stays', () => {
    const dir = tempDir()
    writeFileSync(join(dir, '.env'), `SECRET_KEY=${'c'.repeat(64)}`)
    expect(saveGeneratedSecrets(dir, {})?.names).toEqual(['SEALING_KEY'])
    const config = loadConfig({ cwd: dir, env: {} })
    expect(config.secretKey).toBe('c'.repeat(64))
    expect(config.algorithm).toBe('HS256')
    expect(config.sealingKey).toMatch(/^[0-9a-f]{64}$/)
    expect(saveGeneratedSecrets(dir, {})).toBeUndefined()
  })

  it('writes nothing when the environment has a key, or in production', () => {
    const dir = tempDir()
    expect(saveGeneratedSecret(dir, { SECRET_KEY: 'x'.repeat(40) })).toBeUndefined()
    expect(saveGeneratedSecret(dir, { NODE_ENV: 'production' })).toBeUndefined()
    expect(() => statSync(join(dir, '.env'))).toThrow()
  })
})
