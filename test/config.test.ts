import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { configWarnings, loadConfig, parseConfig } from '../src/config.js'
import { ConfigError } from '../src/errors.js'
import { parseDatabaseUrl } from '../src/store/open.js'
import { tempDir } from './helper.js'

const STRONG = 'a'.repeat(64)

describe('configuration', () => {
  it('has the tutorial’s defaults', () => {
    const config = parseConfig({ SECRET_KEY: STRONG })
    expect(config).toMatchObject({
      algorithm: 'HS256',
      accessTokenExpireMinutes: 30,
      databaseUrl: 'sqlite:///users.db',
      host: '127.0.0.1',
      port: 8000,
      logLevel: 'info',
      loginMinDurationMs: 'auto',
      workers: 1,
      databasePoolSize: 10,
    })
    expect(parseConfig({ SECRET_KEY: STRONG, DATABASE_POOL_SIZE: '25' }).databasePoolSize).toBe(25)
  })

  it('reads .env in the working directory, with the environment winning', () => {
    const dir = tempDir()
    writeFileSync(
      join(dir, '.env'),
      `SECRET_KEY="${STRONG}"\nACCESS_TOKEN_EXPIRE_MINUTES=5\nPORT=9000\n# comment\n`,
    )
    const config = loadConfig({ cwd: dir, env: { PORT: '9100' } })
    expect(config.secretKey).toBe(STRONG)
    expect(config.accessTokenExpireMinutes).toBe(5)
    expect(config.port).toBe(9100)
  })

  it('keeps a generated key in memory only when not asked to persist it', () => {
    const dir = tempDir()
    loadConfig({ cwd: dir, env: {} })
    expect(() => statSync(join(dir, '.env'))).toThrow()
  })

  it.each([
    [{ NODE_ENV: 'production' }, /SECRET_KEY is required/],
    [{ NODE_ENV: 'production', SECRET_KEY: 'short' }, /at least 32 bytes/],
    [
      {
        NODE_ENV: 'production',
        SECRET_KEY: '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7',
      },
      /published example/,
    ],
    [
      { SECRET_KEY: '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7' },
      /published example/,
    ],
    [{ SECRET_KEY: 'your-256-bit-secret' }, /openssl rand -hex 32/],
    [{ SECRET_KEY: STRONG, ALGORITHM: 'none' }, /ALGORITHM must be one of/],
    [{ SECRET_KEY: STRONG, ACCESS_TOKEN_EXPIRE_MINUTES: '0' }, /ACCESS_TOKEN_EXPIRE_MINUTES/],
    [{ SECRET_KEY: STRONG, ACCESS_TOKEN_EXPIRE_MINUTES: 'soon' }, /ACCESS_TOKEN_EXPIRE_MINUTES/],
    [{ SECRET_KEY: STRONG, PORT: '70000' }, /PORT/],
    [{ SECRET_KEY: STRONG, LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ SECRET_KEY: STRONG, WORKERS: '0' }, /WORKERS must be a whole number from 1 to 64/],
    [{ SECRET_KEY: STRONG, WORKERS: '65' }, /WORKERS/],
    [{ SECRET_KEY: STRONG, WORKERS: 'two' }, /WORKERS/],
    [{ SECRET_KEY: STRONG, DATABASE_POOL_SIZE: '0' }, /DATABASE_POOL_SIZE/],
    [{ SECRET_KEY: STRONG, DATABASE_POOL_SIZE: 'many' }, /DATABASE_POOL_SIZE/],
  ])('refuses %o with a message naming the setting', (vars, message) => {
    expect(() => loadConfig({ cwd: tempDir(), env: vars })).toThrow(message)
    expect(() => loadConfig({ cwd: tempDir(), env: vars })).toThrow(ConfigError)
  })

  it('accepts a short key outside production (development convenience), with a warning', () => {
    const config = parseConfig({ SECRET_KEY: 'dev' })
    expect(config.secretKey).toBe('dev')
    expect(configWarnings(config).join()).toMatch(/shorter than 32 bytes/)
    expect(configWarnings(parseConfig({ SECRET_KEY: STRONG, SEALING_KEY: SEALING }))).toEqual([])
  })
})

const SEALING = 'b'.repeat(64)

describe('SEALING_KEY', () => {
  it('is read apart from SECRET_KEY, held to the same rules in every mode', () => {
    expect(parseConfig({ SECRET_KEY: STRONG, SEALING_KEY: SEALING }).sealingKey).toBe(SEALING)
    for (const NODE_ENV of ['production', 'development']) {
      const vars = { NODE_ENV, SECRET_KEY: STRONG }
      expect(() => parseConfig({ ...vars, SEALING_KEY: 'short' })).toThrow(
        /SEALING_KEY must be at least 32 bytes/,
      )
      expect(() => parseConfig({ ...vars, SEALING_KEY: STRONG })).toThrow(
        /SEALING_KEY must differ from SECRET_KEY/,
      )
      expect(() =>
        parseConfig({
          ...vars,
          SEALING_KEY: '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7',
        }),
      ).toThrow(/SEALING_KEY is a published example value/)
    }
  })

  it('may be missing, even in production (an installation from before it): keys derive from SECRET_KEY, with a warning', () => {
    const config = parseConfig({ NODE_ENV: 'production', SECRET_KEY: STRONG })
    expect(config.sealingKey).toBeUndefined()
    expect(configWarnings(config).join()).toMatch(/SEALING_KEY is not set.*openssl rand -hex 32/)
    // loadConfig never makes one up: a key only this process knew would seal what no other can open.
    expect(loadConfig({ cwd: tempDir(), env: {} }).sealingKey).toBeUndefined()
  })
})

describe('ALGORITHM', () => {
  it('stays HS256 by default where SECRET_KEY is set (drop-in), and any ALGORITHM set is honoured', () => {
    expect(parseConfig({ SECRET_KEY: STRONG }).algorithm).toBe('HS256')
    expect(parseConfig({ SECRET_KEY: STRONG, ALGORITHM: '' }).algorithm).toBe('HS256')
    expect(parseConfig({ SECRET_KEY: STRONG, ALGORITHM: 'hs512' }).algorithm).toBe('HS512')
    expect(parseConfig({ SECRET_KEY: STRONG, ALGORITHM: 'EdDSA' }).algorithm).toBe('EdDSA')
  })
})

describe('SMTP_TLS', () => {
  it('defaults to required, accepts none, and refuses anything else naming the setting', () => {
    const mail = (vars: Record<string, string>) =>
      parseConfig({ SECRET_KEY: STRONG, SMTP_URL: 'smtp://mail.example.com', ...vars }).mail
    expect(mail({}).smtpTls).toBe('required')
    expect(mail({ SMTP_TLS: 'none' }).smtpTls).toBe('none')
    expect(mail({ SMTP_TLS: 'NONE' }).smtpTls).toBe('none')
    expect(() => mail({ SMTP_TLS: 'off' })).toThrow(ConfigError)
    expect(() => mail({ SMTP_TLS: 'off' })).toThrow(/SMTP_TLS must be one of required, none/)
  })
})

describe('DATABASE_URL', () => {
  it('reads SQLAlchemy-style SQLite URLs', () => {
    expect(parseDatabaseUrl('sqlite:///users.db', '/srv/app')).toEqual({
      driver: 'sqlite',
      filename: '/srv/app/users.db',
    })
    expect(parseDatabaseUrl('sqlite:///data/users.db', '/srv/app')).toEqual({
      driver: 'sqlite',
      filename: '/srv/app/data/users.db',
    })
    expect(parseDatabaseUrl('sqlite:////var/lib/users.db', '/srv/app')).toEqual({
      driver: 'sqlite',
      filename: '/var/lib/users.db',
    })
    expect(parseDatabaseUrl('sqlite://', '/srv/app')).toEqual({
      driver: 'sqlite',
      filename: ':memory:',
    })
    expect(parseDatabaseUrl('sqlite:///:memory:', '/srv/app')).toEqual({
      driver: 'sqlite',
      filename: ':memory:',
    })
  })

  it('reads PostgreSQL URLs, SQLAlchemy driver forms included', () => {
    const postgres = (connectionString: string) => ({ driver: 'postgres', connectionString })
    expect(parseDatabaseUrl('postgresql://app:pw@db:5432/users')).toEqual(
      postgres('postgresql://app:pw@db:5432/users'),
    )
    expect(parseDatabaseUrl('postgres://app@db/users?sslmode=require')).toEqual(
      postgres('postgresql://app@db/users?sslmode=require'),
    )
    expect(parseDatabaseUrl('postgresql+psycopg2://app:pw@db/users')).toEqual(
      postgres('postgresql://app:pw@db/users'),
    )
    expect(parseDatabaseUrl('postgresql+asyncpg://app:pw@db/users')).toEqual(
      postgres('postgresql://app:pw@db/users'),
    )
    expect(parseDatabaseUrl('POSTGRESQL://db/users')).toEqual(postgres('postgresql://db/users'))
  })

  it('refuses a malformed PostgreSQL URL without echoing its password', () => {
    expect(() => parseDatabaseUrl('postgresql://app:hunter2@db:port/users')).toThrow(
      /DATABASE_URL: expected postgresql:\/\//,
    )
    expect(() => parseDatabaseUrl('postgresql://app:hunter2@db:port/users')).not.toThrow(/hunter2/)
    expect(() => parseDatabaseUrl('postgresql://app:hunter2@db:port/users', '/', '--from')).toThrow(
      /^--from: /,
    )
  })

  it('refuses unsupported or malformed URLs without echoing credentials', () => {
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/app')).toThrow(
      /'mysql' database is not supported/,
    )
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/app')).not.toThrow(/hunter2/)
    expect(() => parseDatabaseUrl('users.db')).toThrow(ConfigError)
    expect(() => parseDatabaseUrl('sqlite:users.db')).toThrow(ConfigError)
  })
})

describe('.env.example', () => {
  it('documents every setting the configuration reads', () => {
    const root = join(import.meta.dirname, '..')
    const source = readFileSync(join(root, 'src', 'config.ts'), 'utf8')
    const example = readFileSync(join(root, '.env.example'), 'utf8')
    const read = new Set(
      [...source.matchAll(/vars\.([A-Z][A-Z0-9_]+)|\(vars, '([A-Z][A-Z0-9_]+)'/g)].map(
        (match) => match[1] ?? match[2],
      ),
    )
    expect(read.size).toBeGreaterThan(30)
    const missing = [...read].filter((name) => !new RegExp(`^${name}=`, 'm').test(example))
    expect(missing).toEqual([])
  })
})
