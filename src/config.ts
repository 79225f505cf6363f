// Configuration: the only module that reads process.env and `.env`. The names are the FastAPI
// tutorial's (SECRET_KEY, ALGORITHM, ACCESS_TOKEN_EXPIRE_MINUTES, DATABASE_URL) plus Gatehouse's own.
// Everything is validated once, at start, with messages that name the setting.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import dotenv from 'dotenv'
import { ConfigError } from './errors.js'

/** JWT algorithms Gatehouse signs with: HS* with SECRET_KEY, the others with key pairs. */
export const SIGNING_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'EdDSA'] as const
export type SigningAlgorithmName = (typeof SIGNING_ALGORITHMS)[number]

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]

export interface Config {
  secretKey: string
  /**
   * Root of the keys for data at rest and throttle counters (SEALING_KEY), apart from SECRET_KEY.
   * Unset (an installation from before it): they derive from SECRET_KEY as before, with a warning.
   */
  sealingKey: string | undefined
  /** Key material for TOTP secrets at rest (MFA_ENCRYPTION_KEY); SECRET_KEY when unset. */
  mfaEncryptionKey: string | undefined
  algorithm: SigningAlgorithmName
  /** PEM private key from SIGNING_KEY_FILE; without it asymmetric keys are generated and kept in the database. */
  signingKeyPem: string | undefined
  /** `iss` of every token and the RFC 8414 issuer (ISSUER; never taken from a request's Host header). */
  issuer: string
  /** `aud` of every token (AUDIENCE). */
  audience: string
  /** ISSUER was set; without it instances sharing a database accept each other's default issuers. */
  issuerConfigured: boolean
  /** AUDIENCE was set. */
  audienceConfigured: boolean
  accessTokenExpireMinutes: number
  refreshTokenExpireDays: number
  refreshTokenIdleDays: number
  /**
   * After a rotation, the same refresh token presented again within this many seconds answers the
   * same successor (an idempotent retry) instead of ending the session (REFRESH_REUSE_GRACE_SECONDS; 0: never).
   */
  refreshReuseGraceSeconds: number
  /**
   * A sensitive change (a factor enrolled or removed, a new e-mail address) sent without the current
   * password needs a session whose login is at most this many seconds old (RECENT_AUTH_SECONDS; 0: the
   * password always).
   */
  recentAuthSeconds: number
  /** Every token request must name a registered client (REQUIRE_CLIENT). */
  requireClient: boolean
  /** Scopes of users that have none of their own (DEFAULT_SCOPES). */
  defaultScopes: string[]
  /** Scopes beyond the built-in ones, `me`, `items` and `admin` (SCOPES, as `name=description,...`). */
  extraScopes: Record<string, string>
  databaseUrl: string
  /** Connections each process keeps to PostgreSQL at most (DATABASE_POOL_SIZE; SQLite ignores it). */
  databasePoolSize: number
  /** PostgreSQL: token owners (sessions) each process keeps in memory; 0 reads every one from the database. */
  tokenOwnerCacheSize: number
  host: string
  port: number
  logLevel: LogLevel
  production: boolean
  /** Password hashing jobs run at once (HASH_CONCURRENCY, default: one per core). */
  hashConcurrency: number
  /** Password checks allowed to wait before /token answers 503 (HASH_QUEUE_MAX). */
  hashQueueMax: number
  /**
   * How much nicer than the event loop the hashing threads run (HASH_THREAD_NICENESS, 0 to 19, default
   * 10; Linux only): the event loop gets the CPU first whenever it has work.
   */
  hashThreadNiceness: number
  /** Minimum duration of every failed password check in ms, or 'auto' to measure it at start (LOGIN_MIN_DURATION_MS). */
  loginMinDurationMs: number | 'auto'
  /** Largest accepted request body in bytes (BODY_LIMIT). */
  bodyLimit: number
  /** Shortest acceptable new password, in characters (PASSWORD_MIN_LENGTH). */
  passwordMinLength: number
  /** Whether anyone may create an account with POST /users (REGISTRATION=open). */
  registrationOpen: boolean
  /** Failed-login limits (THROTTLE_*). */
  throttle: {
    pairLimit: number
    userLimit: number
    ipLimit: number
    windowMs: number
    baseBlockMs: number
    maxBlockMs: number
    /** Bits of an IPv6 address that count as one client (THROTTLE_IPV6_PREFIX). */
    ipv6PrefixLength: number
    /** Registrations one client address may attempt per window (THROTTLE_REGISTRATION_LIMIT). */
    registrationLimit: number
  }
  /** Proxies whose X-Forwarded-For is believed (TRUST_PROXY: addresses or CIDRs); empty: none. */
  trustProxy: string[]
  /** Origins of browser frontends allowed to call the API (CORS_ORIGINS); empty: no CORS headers at all. */
  corsOrigins: string[]
  /** Redis for throttling counters shared by instances (REDIS_URL); without it they live in the database. */
  redisUrl: string | undefined
  /** What logins do while Redis is unreachable (REDIS_FAILURE_MODE). */
  redisFailureMode: 'open' | 'closed'
  /** Serve Prometheus metrics (METRICS=true). */
  metrics: boolean
  /** Serve them on this port instead of at /metrics on the main one (METRICS_PORT). */
  metricsPort: number | undefined
  /** Server processes sharing the port through node:cluster (WORKERS, default 1: no cluster). */
  workers: number
  /** Audit events are kept this many days, then pruned (AUDIT_RETENTION_DAYS). */
  auditRetentionDays: number
  /** How often one of the instances sharing the database prunes (MAINTENANCE_INTERVAL_MINUTES). */
  maintenanceIntervalMinutes: number
  /** Audit events of one kind a client address writes per minute before they are summarised. */
  auditEventsPerClientPerMinute: number
  /** Account recovery and verified addresses by e-mail (SMTP_URL, MAIL_FROM, ...). */
  mail: MailConfig
  /** OpenTelemetry traces over OTLP/HTTP, when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. */
  tracing: TracingConfig | undefined
}

/** The standard OTEL_* variables Gatehouse honours (docs/observability.md). */
export interface TracingConfig {
  /** Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string
  /** OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TRACES_HEADERS (which wins); may carry a key. */
  headers: Record<string, string>
  /** OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else `gatehouse`. */
  serviceName: string
  /** OTEL_RESOURCE_ATTRIBUTES. */
  resourceAttributes: Record<string, string>
  /** OTEL_TRACES_SAMPLER (default parentbased_always_on). */
  sampler: TraceSampler
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the *traceidratio samplers (default 1). */
  samplerRatio: number
}

export type TraceSampler = (typeof TRACE_SAMPLERS)[number]
const TRACE_SAMPLERS = [
  'parentbased_always_on',
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const

export interface MailConfig {
  /**
   * 'smtp': sent through SMTP_URL; 'log': no SMTP_URL outside production, so mail is written to the
   * server log (development only); 'disabled': production without SMTP_URL, no mail features at all.
   */
  mode: 'smtp' | 'log' | 'disabled'
  /** SMTP_URL (smtp:// or smtps://, may carry a password: never echoed). */
  smtpUrl: string | undefined
  /**
   * SMTP_TLS: 'required' (default): smtp:// must upgrade with STARTTLS, except to a loopback host;
   * 'none': smtp:// may send in clear when the server offers no STARTTLS (a trusted relay).
   */
  smtpTls: 'required' | 'none'
  /** The From header (MAIL_FROM). */
  from: string
  /** How long a password reset link is valid (PASSWORD_RESET_MINUTES). */
  passwordResetMinutes: number
  /** Logins of users whose address awaits verification are refused (REQUIRE_VERIFIED_EMAIL). */
  requireVerifiedEmail: boolean
  /** A directory of templates replacing the built-in ones (MAIL_TEMPLATES_DIR). */
  templatesDir: string | undefined
}

/** Secrets that are public, from the FastAPI tutorial and common samples: never valid in production. */
/**
 * Secrets published in tutorials, READMEs and samples (the FastAPI tutorial's first): anyone can sign
 * tokens with them, so they are refused in every mode. Compared exactly.
 */
const KNOWN_PUBLIC_SECRETS = new Set([
  '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7',
  'changethis',
  'changeme',
  'secret',
  'secretkey',
  'secret-key',
  'secret_key',
  'your-secret-key',
  'your_secret_key',
  'your-256-bit-secret',
  'mysecret',
  'mysecretkey',
  'supersecret',
  'jwt-secret',
  'shhhhh',
  'keyboard cat',
])

const MIN_SECRET_BYTES = 32

export interface LoadConfigOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv
  /** Where `.env` is read; defaults to process.cwd(). */
  cwd?: string
}

/** The variables of `.env` in `cwd` merged with the environment, which wins. */
export function readVariables(options: LoadConfigOptions = {}): Record<string, string | undefined> {
  const envFile = join(options.cwd ?? process.cwd(), '.env')
  const fromFile = existsSync(envFile) ? dotenv.parse(readFileSync(envFile)) : {}
  return { ...fromFile, ...(options.env ?? process.env) }
}

/**
 * Reads and validates the configuration. Outside production a missing SECRET_KEY is generated in
 * memory (enough for CLI commands); `gatehouse serve` saves one to `.env` before loading.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const vars = readVariables(options)
  if (!vars.SECRET_KEY && vars.NODE_ENV !== 'production') {
    vars.SECRET_KEY = randomBytes(32).toString('hex')
  }
  return parseConfig(vars)
}

/** Settings that work but deserve a warning at start. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = []
  if (config.sealingKey === undefined) {
    warnings.push(
      'SEALING_KEY is not set: data at rest (queued mail, TOTP seeds, recovery codes) and throttle counters are keyed from SECRET_KEY. Set SEALING_KEY (generate one with: openssl rand -hex 32); what was sealed before stays readable',
    )
  }
  if (Buffer.byteLength(config.secretKey) < MIN_SECRET_BYTES) {
    warnings.push(
      `SECRET_KEY is shorter than ${MIN_SECRET_BYTES} bytes: production refuses it (generate one with: openssl rand -hex 32)`,
    )
  }
  return warnings
}

/** Pure validation of already-merged variables. */
export function parseConfig(vars: Record<string, string | undefined>): Config {
  const production = vars.NODE_ENV === 'production'
  const secretKey = vars.SECRET_KEY ?? ''
  if (secretKey === '')
    throw new ConfigError(
      'SECRET_KEY is required in production (generate one with: openssl rand -hex 32)',
    )
  if (production && Buffer.byteLength(secretKey) < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `SECRET_KEY must be at least ${MIN_SECRET_BYTES} bytes in production (generate one with: openssl rand -hex 32)`,
    )
  }
  if (KNOWN_PUBLIC_SECRETS.has(secretKey)) {
    throw new ConfigError(
      'SECRET_KEY is a published example value that anyone can sign tokens with; generate your own with: openssl rand -hex 32',
    )
  }

  const algorithms: readonly SigningAlgorithmName[] = SIGNING_ALGORITHMS
  const algorithm = algorithms.find(
    (name) => name.toUpperCase() === (vars.ALGORITHM || 'HS256').toUpperCase(),
  )
  if (!algorithm)
    throw new ConfigError(
      `ALGORITHM must be one of ${algorithms.join(', ')}; got '${vars.ALGORITHM}'`,
    )
  const signingKeyPem = vars.SIGNING_KEY_FILE ? readKeyFile(vars.SIGNING_KEY_FILE) : undefined
  if (signingKeyPem && algorithm.startsWith('HS')) {
    throw new ConfigError(
      `SIGNING_KEY_FILE is for RS256, ES256 or EdDSA; ALGORITHM is ${algorithm}`,
    )
  }

  const host = vars.HOST || '127.0.0.1'
  const port = readInteger(vars, 'PORT', 8000, 0, 65_535)
  const issuer = vars.ISSUER || `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  if (!/^https?:\/\/[^\s?#]+$/.test(issuer))
    throw new ConfigError(
      `ISSUER must be an http(s) URL without query or fragment; got '${issuer}'`,
    )
  const accessTokenExpireMinutes = readInteger(
    vars,
    'ACCESS_TOKEN_EXPIRE_MINUTES',
    30,
    1,
    60 * 24 * 366,
  )
  const refreshTokenExpireDays = readInteger(vars, 'REFRESH_TOKEN_EXPIRE_DAYS', 30, 1, 3_650)
  const refreshTokenIdleDays = readInteger(
    vars,
    'REFRESH_TOKEN_IDLE_DAYS',
    Math.min(7, refreshTokenExpireDays),
    1,
    3_650,
  )
  if (refreshTokenIdleDays > refreshTokenExpireDays)
    throw new ConfigError('REFRESH_TOKEN_IDLE_DAYS must not exceed REFRESH_TOKEN_EXPIRE_DAYS')
  const defaultScopes = (vars.DEFAULT_SCOPES ?? 'me items').split(/\s+/).filter(Boolean)

  const logLevel = (vars.LOG_LEVEL ?? 'info').toLowerCase() as LogLevel
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)

  const minDuration = vars.LOGIN_MIN_DURATION_MS ?? 'auto'

  const mfaEncryptionKey = vars.MFA_ENCRYPTION_KEY || undefined
  if (mfaEncryptionKey && Buffer.byteLength(mfaEncryptionKey) < MIN_SECRET_BYTES)
    throw new ConfigError(
      `MFA_ENCRYPTION_KEY must be at least ${MIN_SECRET_BYTES} bytes (generate one with: openssl rand -hex 32)`,
    )

  const sealingKey = readSealingKey(vars, secretKey)

  return {
    secretKey,
    sealingKey,
    mfaEncryptionKey,
    algorithm,
    signingKeyPem,
    issuer: issuer.replace(/\/$/, ''),
    audience: vars.AUDIENCE || issuer.replace(/\/$/, ''),
    issuerConfigured: Boolean(vars.ISSUER),
    audienceConfigured: Boolean(vars.AUDIENCE),
    accessTokenExpireMinutes,
    refreshTokenExpireDays,
    refreshTokenIdleDays,
    refreshReuseGraceSeconds: readInteger(vars, 'REFRESH_REUSE_GRACE_SECONDS', 10, 0, 3_600),
    recentAuthSeconds: readInteger(vars, 'RECENT_AUTH_SECONDS', 300, 0, 86_400),
    requireClient: readChoice(vars, 'REQUIRE_CLIENT', ['false', 'true'] as const) === 'true',
    defaultScopes,
    extraScopes: parseScopes(vars.SCOPES ?? ''),
    databaseUrl: vars.DATABASE_URL || 'sqlite:///users.db',
    databasePoolSize: readInteger(vars, 'DATABASE_POOL_SIZE', 10, 1, 1_000),
    tokenOwnerCacheSize: readInteger(vars, 'TOKEN_OWNER_CACHE_SIZE', 10_000, 0, 10_000_000),
    host,
    port,
    logLevel,
    production,
    hashConcurrency: readInteger(vars, 'HASH_CONCURRENCY', availableParallelism(), 1, 256),
    hashQueueMax: readInteger(vars, 'HASH_QUEUE_MAX', 64, 0, 100_000),
    hashThreadNiceness: readInteger(vars, 'HASH_THREAD_NICENESS', 10, 0, 19),
    loginMinDurationMs:
      minDuration === 'auto' ? 'auto' : readInteger(vars, 'LOGIN_MIN_DURATION_MS', 0, 0, 10_000),
    bodyLimit: readInteger(vars, 'BODY_LIMIT', 65_536, 1_024, 10 * 1024 * 1024),
    passwordMinLength: readInteger(vars, 'PASSWORD_MIN_LENGTH', 8, 1, 1_024),
    registrationOpen: readChoice(vars, 'REGISTRATION', ['closed', 'open'] as const) === 'open',
    throttle: {
      pairLimit: readInteger(vars, 'THROTTLE_PAIR_LIMIT', 5, 1, 1_000_000),
      // At least 3: one address may fill at most (limit - 1) / 2 of it per window (login-throttle.ts).
      userLimit: readInteger(vars, 'THROTTLE_USER_LIMIT', 50, 3, 1_000_000),
      ipLimit: readInteger(vars, 'THROTTLE_IP_LIMIT', 100, 1, 1_000_000),
      ipv6PrefixLength: readInteger(vars, 'THROTTLE_IPV6_PREFIX', 64, 1, 128),
      registrationLimit: readInteger(vars, 'THROTTLE_REGISTRATION_LIMIT', 10, 1, 1_000_000),
      windowMs: readInteger(vars, 'THROTTLE_WINDOW_MINUTES', 15, 1, 24 * 60) * 60_000,
      baseBlockMs: readInteger(vars, 'THROTTLE_BLOCK_SECONDS', 60, 1, 86_400) * 1000,
      maxBlockMs: readInteger(vars, 'THROTTLE_MAX_BLOCK_SECONDS', 3_600, 1, 7 * 86_400) * 1000,
    },
    trustProxy: parseTrustedProxies(vars.TRUST_PROXY ?? ''),
    corsOrigins: parseCorsOrigins(vars.CORS_ORIGINS ?? ''),
    redisUrl: readRedisUrl(vars.REDIS_URL),
    redisFailureMode: readChoice(vars, 'REDIS_FAILURE_MODE', ['closed', 'open'] as const),
    metrics: readChoice(vars, 'METRICS', ['false', 'true'] as const) === 'true',
    metricsPort: vars.METRICS_PORT ? readInteger(vars, 'METRICS_PORT', 0, 1, 65_535) : undefined,
    workers: readInteger(vars, 'WORKERS', 1, 1, 64),
    auditRetentionDays: readInteger(vars, 'AUDIT_RETENTION_DAYS', 90, 1, 36_500),
    maintenanceIntervalMinutes: readInteger(vars, 'MAINTENANCE_INTERVAL_MINUTES', 60, 1, 1_440),
    auditEventsPerClientPerMinute: readInteger(
      vars,
      'AUDIT_EVENTS_PER_CLIENT_PER_MINUTE',
      20,
      1,
      100_000,
    ),
    mail: parseMail(vars, production, issuer),
    tracing: parseTracing(vars),
  }
}

/** Off unless an OTLP endpoint is named (or when OTEL_SDK_DISABLED=true), as the OTel SDKs do. */
function parseTracing(vars: Record<string, string | undefined>): TracingConfig | undefined {
  const tracesEndpoint = vars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()
  const endpoint = vars.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()
  if (!tracesEndpoint && !endpoint) return undefined
  if (vars.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined
  // The signal-specific endpoint is used as it is; the general one gets the signal's path.
  const url = tracesEndpoint || `${endpoint!.replace(/\/+$/, '')}/v1/traces`
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url))
    throw new ConfigError(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, e.g. http://localhost:4318',
    )
  const protocol = (
    vars.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ||
    vars.OTEL_EXPORTER_OTLP_PROTOCOL ||
    'http/json'
  ).trim()
  // http/protobuf is the spec's default and every OTLP/HTTP receiver takes JSON as well; gRPC is another port.
  if (protocol !== 'http/json' && protocol !== 'http/protobuf')
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL: Gatehouse exports over OTLP/HTTP (http/json); got '${protocol}'`,
    )
  const resourceAttributes = parseKeyValues(vars, 'OTEL_RESOURCE_ATTRIBUTES')
  const ratio = vars.OTEL_TRACES_SAMPLER_ARG?.trim() ? Number(vars.OTEL_TRACES_SAMPLER_ARG) : 1
  if (!(ratio >= 0 && ratio <= 1))
    throw new ConfigError('OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1')
  return {
    url,
    headers: {
      ...parseKeyValues(vars, 'OTEL_EXPORTER_OTLP_HEADERS'),
      ...parseKeyValues(vars, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
    },
    serviceName:
      vars.OTEL_SERVICE_NAME?.trim() || resourceAttributes['service.name'] || 'gatehouse',
    resourceAttributes,
    sampler: readChoice(vars, 'OTEL_TRACES_SAMPLER', TRACE_SAMPLERS),
    samplerRatio: ratio,
  }
}

/** The W3C Baggage-like `key1=value1,key2=value2` lists of OTEL_*, values percent-decoded. */
function parseKeyValues(
  vars: Record<string, string | undefined>,
  name: string,
): Record<string, string> {
  const pairs: Record<string, string> = {}
  for (const entry of (vars[name] ?? '').split(',')) {
    if (!entry.trim()) continue
    const at = entry.indexOf('=')
    // The entry is not echoed: a header may carry an API key.
    if (at <= 0) throw new ConfigError(`${name} must look like key1=value1,key2=value2`)
    try {
      pairs[decodeURIComponent(entry.slice(0, at).trim())] = decodeURIComponent(
        entry.slice(at + 1).trim(),
      )
    } catch {
      throw new ConfigError(`${name}: an entry is not valid percent-encoding`)
    }
  }
  return pairs
}

function parseMail(
  vars: Record<string, string | undefined>,
  production: boolean,
  issuer: string,
): MailConfig {
  const smtpUrl = vars.SMTP_URL || undefined
  // The URL itself is not echoed: it may carry a password.
  if (smtpUrl && !(/^smtps?:\/\/[^\s]+$/i.test(smtpUrl) && URL.canParse(smtpUrl)))
    throw new ConfigError(
      'SMTP_URL must look like smtp://user:password@host:587 (STARTTLS) or smtps://host:465',
    )
  const requireVerifiedEmail =
    readChoice(vars, 'REQUIRE_VERIFIED_EMAIL', ['false', 'true'] as const) === 'true'
  const mode = smtpUrl ? 'smtp' : production ? 'disabled' : 'log'
  if (mode === 'disabled' && requireVerifiedEmail)
    throw new ConfigError(
      'REQUIRE_VERIFIED_EMAIL=true needs SMTP_URL in production: nobody could verify an address',
    )
  const from = vars.MAIL_FROM || `Gatehouse <no-reply@${new URL(issuer).hostname}>`
  if (/[\r\n]/.test(from) || !from.includes('@'))
    throw new ConfigError(`MAIL_FROM must be an address, e.g. Gatehouse <no-reply@example.com>`)
  return {
    mode,
    smtpUrl,
    smtpTls: readChoice(vars, 'SMTP_TLS', ['required', 'none'] as const),
    from,
    passwordResetMinutes: readInteger(vars, 'PASSWORD_RESET_MINUTES', 30, 1, 24 * 60),
    requireVerifiedEmail,
    templatesDir: vars.MAIL_TEMPLATES_DIR || undefined,
  }
}

/** SEALING_KEY: held to SECRET_KEY's rules in every mode (it is new: nobody relies on a short one). */
function readSealingKey(
  vars: Record<string, string | undefined>,
  secretKey: string,
): string | undefined {
  const sealingKey = vars.SEALING_KEY || undefined
  if (sealingKey === undefined) return undefined
  if (Buffer.byteLength(sealingKey) < MIN_SECRET_BYTES)
    throw new ConfigError(
      `SEALING_KEY must be at least ${MIN_SECRET_BYTES} bytes (generate one with: openssl rand -hex 32)`,
    )
  if (KNOWN_PUBLIC_SECRETS.has(sealingKey))
    throw new ConfigError(
      'SEALING_KEY is a published example value; generate your own with: openssl rand -hex 32',
    )
  if (sealingKey === secretKey)
    throw new ConfigError(
      'SEALING_KEY must differ from SECRET_KEY: its point is that SECRET_KEY alone opens nothing at rest',
    )
  return sealingKey
}

function readRedisUrl(url: string | undefined): string | undefined {
  if (!url) return undefined
  // The URL itself is not echoed: it may carry a password.
  if (!/^rediss?:\/\/[^\s]+$/.test(url))
    throw new ConfigError('REDIS_URL must look like redis://host:6379 or rediss://...')
  return url
}

/** The first choice is the default. */
function readChoice<const T extends string>(
  vars: Record<string, string | undefined>,
  name: string,
  choices: readonly [T, ...T[]],
): T {
  const raw = vars[name]?.trim().toLowerCase()
  if (!raw) return choices[0]
  const choice = choices.find((option) => option === raw)
  if (!choice)
    throw new ConfigError(`${name} must be one of ${choices.join(', ')}; got '${vars[name]}'`)
  return choice
}

function parseTrustedProxies(text: string): string[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  for (const entry of entries) {
    const [address = '', bits, ...rest] = entry.split('/')
    const version = isIP(address)
    const maxBits = version === 6 ? 128 : 32
    const validBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)
    if (version === 0 || !validBits || rest.length > 0) {
      throw new ConfigError(
        `TRUST_PROXY: '${entry}' is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1)`,
      )
    }
  }
  return entries
}

/**
 * Exact origins, as browsers send them in `Origin`: lower case, no path, no default port. `*` is
 * refused: it would let every website read what a visitor's browser gets from Gatehouse (login
 * answers included), even a Gatehouse on an intranet or localhost that the website cannot reach.
 */
function parseCorsOrigins(text: string): string[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  for (const entry of entries) {
    if (entry === '*')
      throw new ConfigError(
        "CORS_ORIGINS: '*' is not allowed; list the frontends' origins (e.g. https://app.example.com)",
      )
    const shape =
      /^[a-z][a-z0-9+.-]*:\/\/([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/.test(entry)
    // For http(s) the URL parser knows the canonical form, e.g. that https://host:443 is sent as https://host.
    const canonical = /^https?:/.test(entry) && URL.canParse(entry) ? new URL(entry).origin : entry
    if (!shape || canonical !== entry) {
      const hint = canonical !== entry ? `; write it as '${canonical}'` : ''
      throw new ConfigError(
        `CORS_ORIGINS: '${entry}' is not an origin (scheme://host[:port], lower case, no path, e.g. https://app.example.com)${hint}`,
      )
    }
  }
  return entries
}

function parseScopes(text: string): Record<string, string> {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  return Object.fromEntries(
    entries.map((entry) => {
      const [name = '', ...description] = entry.split('=')
      return [name.trim(), description.join('=').trim() || name.trim()]
    }),
  )
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(
      `SIGNING_KEY_FILE: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    )
  }
}

function readInteger(
  vars: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = vars[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got '${raw}'`)
  }
  return value
}
