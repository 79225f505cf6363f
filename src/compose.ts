// createServices: the one place that wires Gatehouse's services, for every entry point (the server,
// the CLI and the tests). It opens what the configuration asks for (Redis, metrics), starts the
// signing keys' periodic reload, and closes them again; the store is the caller's to open and close.
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { createGrantRegistry, type Grant, type GrantRegistry } from './grants/index.js'
import { createLogger } from './logger.js'
import type { Metrics } from './metrics.js'
import { createPasswordHasher, type PasswordHasher } from './security/passwords.js'
import { macKeys, type SealingKeys } from './security/sealing.js'
import { createTimingFloor, type TimingFloor } from './security/timing-floor.js'
import { createTokenService, type TokenService } from './security/tokens.js'
import { createAccounts, type Accounts } from './services/accounts/accounts.js'
import { createAuditLog, type AuditLog } from './services/audit/audit-log.js'
import { createClients, type Clients } from './services/clients/clients.js'
import {
  createCurrentUserResolver,
  type CurrentUserResolver,
} from './services/sessions/current-user.js'
import { createIntrospection, type Introspect } from './services/introspection/introspection.js'
import { createLogin, type Login } from './services/login/login.js'
import { createLoginThrottle, throttleAddress } from './services/throttle/login-throttle.js'
import { createMailer, type Mailer } from './services/mail/mail.js'
import { createMaintenance, type Maintenance } from './services/maintenance/maintenance.js'
import {
  createFloorSizing,
  createPasswordCheck,
  type FloorSizing,
} from './services/login/password-check.js'
import { createMfa, type Mfa } from './services/mfa/mfa.js'
import { createRecentAuthentication } from './services/login/recent-authentication.js'
import { createRecovery, type Recovery } from './services/recovery/recovery.js'
import {
  createRevocationEvents,
  type RevocationEventOptions,
  type RevocationEvents,
} from './services/events/revocation-events.js'
import { createScopeCatalog, type ScopeCatalog } from './services/scopes/scopes.js'
import { createAuditTrail, type SecurityEvents } from './services/audit/security-events.js'
import { createSessions, type Sessions } from './services/sessions/sessions.js'
import { createAccessTokenVerifier } from './services/sessions/access-token-verifier.js'
import { createKeyManager, type KeyManager } from './services/keys/signing-keys.js'
import { createTokenIssuers } from './services/keys/token-issuers.js'
import {
  createTokenOwnerCache,
  withCatchUp,
  type TokenOwnerCache,
} from './services/sessions/token-owner-cache.js'
import type { Store, ThrottleStore } from './store/contract.js'
import type { RedisThrottleStore } from './store/redis/throttle.js'
import type { Tracing } from './tracing/tracing.js'

export interface Services {
  config: Config
  store: Store
  logger: Logger
  hasher: PasswordHasher
  /** The login timing floor (LOGIN_MIN_DURATION_MS). */
  floor: TimingFloor
  /** LOGIN_MIN_DURATION_MS=auto: the floor sized for the hash kinds stored (calibrate starts it). */
  floorSizing: FloorSizing | undefined
  scopes: ScopeCatalog
  keys: KeyManager
  tokens: TokenService
  events: SecurityEvents
  auditLog: AuditLog
  /** Pruning of old audit events and ended sessions, once across instances (the server starts it). */
  maintenance: Maintenance
  accounts: Accounts
  /** The mail outbox and its sender (the server starts it). */
  mailer: Mailer
  /** Password reset and e-mail verification links. */
  recovery: Recovery
  sessions: Sessions
  login: Login
  /** Second factors: TOTP enrolment, recovery codes, the mfa grants' second step. */
  mfa: Mfa
  /** Registered OAuth clients and client authentication. */
  clients: Clients
  /** RFC 7662: whether a token is live now, for resource servers. */
  introspect: Introspect
  /** GET /events/revocations: the change feed as Server-Sent Events, for resource servers. */
  revocationEvents: RevocationEvents
  /** The grant types of /token: their parameters, client rules and handlers (src/grants/). */
  grants: GrantRegistry
  currentUser: CurrentUserResolver
  /** TOKEN_OWNER_CACHE_SIZE > 0: the token owners kept in memory behind currentUser. */
  tokenOwners: TokenOwnerCache | undefined
  /** Prometheus metrics, when METRICS=true. */
  metrics: Metrics | undefined
  /** OpenTelemetry traces, when an OTLP endpoint is configured (buildApp adds the request spans). */
  tracing: Tracing | undefined
  /**
   * Measures what must be measured before the first login (the timing floor, when
   * LOGIN_MIN_DURATION_MS=auto). The server calls it once before it listens.
   */
  calibrate(): Promise<void>
  /** Stops timers and closes what createServices opened (not the store). */
  close(): Promise<void>
}

export interface ServiceOptions {
  config: Config
  store: Store
  /** Defaults to a silent logger. */
  logger?: Logger
  /** Defaults to one built from the config; tests pass one to share it. */
  hasher?: PasswordHasher
  /** The revocation event streams' heartbeat, limits and polling (defaults suit production). */
  revocationEvents?: RevocationEventOptions
  /** The grant types /token offers: GRANTS of src/grants/index.ts unless a test passes more. */
  grants?: readonly Grant[]
}

export async function createServices(options: ServiceOptions): Promise<Services> {
  const { config } = options
  const logger = options.logger ?? createLogger('silent')
  // Traces only when an OTLP endpoint is configured: otherwise no SDK is loaded and nothing is wrapped.
  const tracing = config.tracing
    ? (await import('./tracing/tracing.js')).startTracing(config.tracing)
    : undefined
  const openedStore = tracing
    ? await import('./tracing/traced-store.js').then(({ traceStore, databaseSystem }) =>
        traceStore(options.store, databaseSystem(config.databaseUrl), tracing.startSpan),
      )
    : options.store
  // On PostgreSQL a lookup is a round trip; on SQLite a read on the event loop, where asking the file
  // whether another process committed (the CLI, another worker) costs less than the read.
  const ownerCache =
    config.tokenOwnerCacheSize > 0
      ? createTokenOwnerCache({
          store: openedStore,
          size: config.tokenOwnerCacheSize,
          log: logger,
        })
      : undefined
  const store = ownerCache ? withCatchUp(openedStore, ownerCache) : openedStore
  const hasher =
    options.hasher ??
    createPasswordHasher({
      concurrency: config.hashConcurrency,
      maxQueued: config.hashQueueMax,
      startSpan: tracing?.startSpan,
    })
  const auto = config.loginMinDurationMs === 'auto'
  const floor = createTimingFloor(auto ? 0 : (config.loginMinDurationMs as number))
  const scopes = createScopeCatalog(config.extraScopes, config.defaultScopes)

  // The audit trail (and the metrics it tells) first: every use-case records through it.
  const metrics = config.metrics
    ? (await import('./metrics.js')).createMetrics({
        hashQueueDepth: () => hasher.queueDepth,
        databasePool: store.poolStats?.bind(store),
        revocationSubscribers: () => revocationEvents.stats.subscribers,
      })
    : undefined
  const events = createAuditTrail({
    store,
    log: logger,
    also: metrics?.record,
    perClientPerMinute: config.auditEventsPerClientPerMinute,
    clientOf: (ip) => throttleAddress(ip ?? '', config.throttle.ipv6PrefixLength),
  })

  // Data at rest and throttle counters: SEALING_KEY, reading what SECRET_KEY sealed before it.
  const sealing: SealingKeys = { current: config.sealingKey, legacy: config.secretKey }

  const accessTokenTtlSeconds = config.accessTokenExpireMinutes * 60
  const keys = await createKeyManager({
    algorithm: config.algorithm,
    secretKey: config.secretKey,
    signingKeyPem: config.signingKeyPem,
    store,
    accessTokenTtlSeconds,
    events,
    onChange: (current) => tokens.setKeys(current),
  })
  const tokens = createTokenService({
    keys: keys.current(),
    issuer: config.issuer,
    audience: config.audience,
    ttlSeconds: accessTokenTtlSeconds,
  })
  const stopKeyReload = keys.reloadPeriodically((error) =>
    logger.warn({ err: error }, 'could not reload signing keys'),
  )
  const issuers = await createTokenIssuers({
    store,
    issuer: config.issuer,
    issuerConfigured: config.issuerConfigured,
    audienceConfigured: config.audienceConfigured,
    onChange: (accepted) => tokens.setAccepted(accepted),
  })
  const verifyAccessToken = createAccessTokenVerifier(tokens, (mismatch) =>
    mismatch === 'unknown_key' ? keys.reload() : issuers.reload(),
  )

  // Redis is loaded and connected on the first login, not before: CLI commands never need it, and
  // with prom-client it weighs 35 MB of memory.
  let redis: Promise<RedisThrottleStore> | undefined
  const openRedis = (url: string) =>
    (redis ??= import('./store/redis/throttle.js').then((module) =>
      module.openRedisThrottleStore(url),
    ))
  const throttleStore: ThrottleStore = config.redisUrl
    ? {
        async updateThrottles(keys, update) {
          return (await openRedis(config.redisUrl!)).updateThrottles(keys, update)
        },
        async readThrottles(keys) {
          return (await openRedis(config.redisUrl!)).readThrottles(keys)
        },
      }
    : store
  const revocationEvents = createRevocationEvents({
    ...options.revocationEvents,
    store,
    log: logger,
    accessTokenTtlSeconds,
    onCutOff: metrics?.countRevocationCutOff,
  })

  const throttle = createLoginThrottle({
    store: throttleStore,
    policy: config.throttle,
    // Counters keyed under SECRET_KEY before SEALING_KEY was set start over: they are short-lived.
    secret: macKeys(sealing, 'throttle counters', (legacy) => legacy).current,
    failureMode: config.redisFailureMode,
    log: logger,
  })
  const sizing = auto ? createFloorSizing({ floor, hasher, store, log: logger }) : undefined
  const checkPassword = createPasswordCheck({ store, hasher, floor, throttle, log: logger, sizing })
  const maintenance = createMaintenance({
    store,
    log: logger,
    auditRetentionDays: config.auditRetentionDays,
    accessTokenTtlSeconds,
    intervalMs: config.maintenanceIntervalMinutes * 60_000,
  })
  const mailer = createMailer({
    settings: {
      mode: config.mail.mode,
      smtpUrl: config.mail.smtpUrl,
      smtpTls: config.mail.smtpTls,
      from: config.mail.from,
      templatesDir: config.mail.templatesDir,
    },
    store,
    log: logger,
    events,
    sealing,
    startSpan: tracing?.startSpan,
  })
  const sessions = createSessions({
    store,
    tokens,
    verifyAccessToken,
    scopes,
    events,
    refreshTokenExpireDays: config.refreshTokenExpireDays,
    refreshTokenIdleDays: config.refreshTokenIdleDays,
    refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
    sealing,
  })
  const grants = createGrantRegistry(options.grants)
  const clients = createClients({
    store,
    scopes,
    events,
    throttle,
    tokens,
    defaultScopes: config.defaultScopes,
    requireClient: config.requireClient,
    // The grants declare which clients they admit; services cannot import them, so they are handed in.
    grants: grants.clientRules,
  })
  // One guard for every sensitive self-service change (MFA here, the e-mail address, passkeys next).
  const requireRecentAuthentication = createRecentAuthentication({
    store,
    checkPassword,
    maxAgeSeconds: config.recentAuthSeconds,
  })
  const mfa = createMfa({
    store,
    throttle,
    // MFA_ENCRYPTION_KEY, when set, stays what seeds and codes are keyed with, derived as before.
    sealing: config.mfaEncryptionKey
      ? { current: undefined, legacy: config.mfaEncryptionKey }
      : sealing,
    requireRecentAuthentication,
    sessions,
    events,
  })
  const recovery = createRecovery({
    store,
    hasher,
    mailer,
    events,
    throttle,
    log: logger,
    issuer: config.issuer,
    passwordResetMinutes: config.mail.passwordResetMinutes,
    requireVerifiedEmail: config.mail.requireVerifiedEmail,
    passwordMinLength: config.passwordMinLength,
  })
  const login = createLogin({
    checkPassword,
    sessions,
    events,
    mfa,
    requireVerifiedEmail: config.mail.requireVerifiedEmail,
    resendVerification: (user) => recovery.sendVerification(user),
  })
  const accounts = createAccounts({
    store,
    hasher,
    scopes,
    events,
    checkPassword,
    requireRecentAuthentication,
    throttle,
    passwordMinLength: config.passwordMinLength,
    registrationOpen: config.registrationOpen,
    verification: recovery,
  })

  return {
    config,
    store,
    logger,
    hasher,
    floor,
    floorSizing: sizing,
    scopes,
    keys,
    tokens,
    events,
    auditLog: createAuditLog(store),
    maintenance,
    accounts,
    mailer,
    recovery,
    sessions,
    login,
    mfa,
    clients,
    introspect: createIntrospection({
      store,
      verifyAccessToken,
      scopes,
      issuer: config.issuer,
      audience: config.audience,
      refreshTokenIdleDays: config.refreshTokenIdleDays,
    }),
    revocationEvents,
    grants,
    currentUser: createCurrentUserResolver({
      verifyAccessToken,
      store: ownerCache ?? store,
      defaultScopes: config.defaultScopes,
      log: logger,
    }),
    tokenOwners: ownerCache,
    metrics,
    tracing,
    async calibrate() {
      // Measured on this machine, for the slowest hash kind the database holds.
      await sizing?.start()
    },
    async close() {
      stopKeyReload()
      await revocationEvents.close()
      await ownerCache?.close()
      sizing?.stop()
      await maintenance.stop()
      await recovery.close()
      await mailer.stop()
      await events.flush()
      await (await redis)?.close()
      // Last, so that the spans of closing are sent too.
      await tracing?.shutdown()
    },
  }
}
