// Registered OAuth clients (RFC 6749 §2): registration with a secret shown once and stored hashed,
// listing, removal, secret rotation (each audited with its actor), and client authentication at the
// token, introspection and revocation endpoints (RFC 6749 §2.3.1), throttled like passwords.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  InvalidClient,
  InvalidInput,
  InvalidScope,
  NotFound,
  UnauthorizedClient,
  UnsupportedGrantType,
  InvalidTarget,
} from '../../errors.js'
import type { TokenService } from '../../security/tokens.js'
import type { ClientRecord, ClientStore } from '../../store/contract.js'
import type { Actor, ClientInfo } from '../shared/actor.js'
import type { LoginThrottle } from '../throttle/login-throttle.js'
import type { ScopeCatalog } from '../scopes/scopes.js'
import { auditEvent, type ClientAdminAction } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { AuthenticatedClient } from '../shared/authenticated-client.js'
import { checkResourceUri } from './resource-uri.js'
import type { TokenResponse } from '../shared/token-response.js'

/**
 * What this use-case must know of one grant type to register clients for it and to admit its token
 * requests. Each grant declares its rule beside its parameters (src/grants/); compose.ts hands the
 * registry's list over, because services never import grants: the rules are data the grants own,
 * enforced here so that every entry point (HTTP, CLI, the library) registers and admits alike.
 */
export interface ClientGrantRule {
  /** The `grant_type`. */
  readonly type: string
  /**
   * A client registered for this grant may use this one, which no client is registered for itself
   * (the second step of a password login needs `password`).
   */
  readonly allowedBy?: string
  /** Only a confidential client may be registered for it. */
  readonly confidentialOnly?: boolean
  /** A request naming no registered client is refused (401) even without REQUIRE_CLIENT. */
  readonly clientRequired?: boolean
  /** A client registered without a list of grants gets this one. */
  readonly byDefault?: boolean
}

/** What a client is shown as (never its secret or its hash). */
export interface ClientView {
  client_id: string
  name: string
  confidential: boolean
  grants: string[]
  scopes: string[]
  /** The resource URI it serves (RFC 8707), or null for a client that is no resource server. */
  resource: string | null
  created_at: string
}

export interface NewClient {
  name: string
  confidential?: boolean
  /** Defaults to the grants whose rule says `byDefault` (password and refresh_token). */
  grants?: string[]
  /** Defaults to DEFAULT_SCOPES, or to none for a client registered for client_credentials. */
  scopes?: string[]
  /** Registers it as the resource server of this URI (RFC 8707); confidential clients only. */
  resource?: string
}

/** The client credentials a request carried, as the HTTP layer read them. */
export interface PresentedClient {
  clientId: string
  /** Absent for a public client. */
  secret?: string
  /** Sent with HTTP Basic (a failure then answers a Basic challenge). */
  basic: boolean
}

export interface Clients {
  /** Registers a client; a confidential one gets its secret here, and only here. */
  add(client: NewClient, actor: Actor): Promise<{ client: ClientView; secret?: string }>
  list(): Promise<ClientView[]>
  /** NotFound for an unknown client. */
  show(clientId: string): Promise<ClientView>
  /** Removes the client and ends every session opened through it; NotFound for an unknown client. */
  remove(clientId: string, actor: Actor): Promise<{ sessionsEnded: number }>
  /** A new secret for a confidential client; the old one stops working at once. */
  rotateSecret(clientId: string, actor: Actor): Promise<string>
  /** Checks a presented client; InvalidClient (throttled like a password on failure) otherwise. */
  authenticate(presented: PresentedClient, ip: string): Promise<AuthenticatedClient>
  /**
   * The client a token request acts for, with `grantType` checked against it by the grant's rule:
   * undefined when none was named and REQUIRE_CLIENT is off (the FastAPI tutorial's clients name
   * none). UnsupportedGrantType for a grant type without a rule.
   */
  admitTokenRequest(
    presented: PresentedClient | undefined,
    grantType: string,
    ip: string,
  ): Promise<AuthenticatedClient | undefined>
  /** The client of a revocation request (RFC 7009 §2.1): as for a token request, without a grant. */
  admitRevocation(
    presented: PresentedClient | undefined,
    ip: string,
  ): Promise<AuthenticatedClient | undefined>
  /**
   * A client registered as a resource server (with a `resource`) that authenticated with its secret:
   * the only callers of introspection and the revocation stream. InvalidClient otherwise.
   */
  requireResourceServer(
    presented: PresentedClient | undefined,
    ip: string,
  ): Promise<AuthenticatedClient>
  /**
   * A `resource` a token request names (RFC 8707): answered as given when some client is registered
   * as its resource server, InvalidTarget otherwise.
   */
  checkResource(resource: string): Promise<string>
  /**
   * Whether credentials that authenticated still do (the client was not removed nor its secret
   * rotated since), without throttling or audit: a second look once a long-lived stream is registered.
   */
  stillCurrent(presented: PresentedClient): Promise<boolean>
  /**
   * grant_type=client_credentials (RFC 6749 §4.4): an access token whose subject is the client, with
   * the client's scopes (or the requested part of them), and no refresh token.
   */
  issueToken(
    client: AuthenticatedClient | undefined,
    requestedScope: string | undefined,
    from: ClientInfo,
    /** A registered resource (RFC 8707, checked by the grant) to be the access token's `aud`. */
    resource?: string,
  ): Promise<TokenResponse>
}

export interface ClientsDeps {
  store: ClientStore
  scopes: ScopeCatalog
  events: SecurityEvents
  throttle: LoginThrottle
  tokens: Pick<TokenService, 'issueForClient'>
  defaultScopes: readonly string[]
  requireClient: boolean
  /** One rule per grant type of the registry (src/grants/index.ts). */
  grants: readonly ClientGrantRule[]
}

const NAME = /^[\w.:@ -]{1,100}$/u

/** 256 bits from the CSPRNG: a fast hash suffices for a random secret (no dictionary to guess from). */
function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

function newSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url')
  return { secret, hash: hashSecret(secret).toString('base64url') }
}

/** A hash to compare against when the client is unknown, so that both paths cost the same. */
const DUMMY_HASH = hashSecret(randomBytes(32).toString('base64url'))

/** Whether `secret` is the confidential client's (the dummy hash stands in for none). */
function secretMatches(client: ClientRecord | undefined, secret: string): boolean {
  const expected =
    client?.secretHash != null ? Buffer.from(client.secretHash, 'base64url') : DUMMY_HASH
  // Constant time over the digests: the comparison says nothing about how much of a secret matched.
  return (
    expected.length === 32 &&
    timingSafeEqual(hashSecret(secret), expected) &&
    client?.confidential === true
  )
}

function toView(client: ClientRecord): ClientView {
  return {
    client_id: client.clientId,
    name: client.name,
    confidential: client.confidential,
    grants: client.grants,
    scopes: client.scopes,
    resource: client.resource,
    created_at: new Date(client.createdAt).toISOString(),
  }
}

function toAuthenticated(client: ClientRecord): AuthenticatedClient {
  return {
    id: client.clientId,
    confidential: client.confidential,
    grants: client.grants,
    scopes: client.scopes,
  }
}

export function createClients(deps: ClientsDeps): Clients {
  const { store, scopes, events } = deps
  const rules = new Map(deps.grants.map((rule) => [rule.type, rule]))
  const registrable = deps.grants.filter((rule) => rule.allowedBy === undefined)
  const defaultGrants = registrable.filter((rule) => rule.byDefault).map((rule) => rule.type)

  const audited = (actor: Actor, action: ClientAdminAction, clientId: string, note?: string) =>
    events(auditEvent.clientChanged(actor, action, clientId, note))

  const found = async (clientId: string): Promise<ClientRecord> => {
    const client = await store.findClient(clientId)
    if (!client) throw new NotFound(`No client '${clientId.slice(0, 100)}'`)
    return client
  }

  /** `found`: the client's record when the caller has just read it (one lookup, not two). */
  const authenticate = async (
    presented: PresentedClient,
    ip: string,
    found?: ClientRecord,
  ): Promise<AuthenticatedClient> => {
    const { clientId, secret, basic } = presented
    if (clientId.length > 200) throw new InvalidClient(basic)
    const client = found ?? (await store.findClient(clientId))
    if (secret === undefined) {
      // A public client only names itself; a confidential one must prove it.
      if (!client || client.confidential) throw new InvalidClient(basic)
      return toAuthenticated(client)
    }
    const throttleKey = `client:${clientId}`
    // Compared first: a secret is 256 random bits, checked in constant time at no cost, so unlike a
    // password there is nothing to gain from guessing in parallel before the counters see it. A right
    // secret then only reads the counters (it writes when it has failures to forget, or a refusal).
    if (client && secretMatches(client, secret)) {
      await deps.throttle.admitProven(throttleKey, ip)
      return toAuthenticated(client)
    }
    // A wrong one is counted like a wrong password: refused (429) past the limits, per client and address.
    await deps.throttle.reserve(throttleKey, ip)
    // Like a failed login: recorded (bounded per client address by the audit trail), never the secret.
    await events(auditEvent.clientAuthenticationFailed(clientId, ip))
    throw new InvalidClient(basic)
  }

  const admit = async (
    presented: PresentedClient | undefined,
    grantType: string | undefined,
    ip: string,
  ): Promise<AuthenticatedClient | undefined> => {
    const rule = grantType === undefined ? undefined : rules.get(grantType)
    if (grantType !== undefined && !rule) throw new UnsupportedGrantType(grantType)
    const noClient = () => {
      if (deps.requireClient) throw new InvalidClient(false, 'A registered client is required')
      if (rule?.clientRequired) throw new InvalidClient(false)
      return undefined
    }
    if (!presented) return noClient()
    // Drop-in: without REQUIRE_CLIENT, a client_id nobody registered (Swagger UI's, a tutorial
    // client's, which FastAPI's OAuth2PasswordRequestForm ignores) is ignored, as before clients existed.
    let found: ClientRecord | undefined
    if (!deps.requireClient) {
      found = await store.findClient(presented.clientId.slice(0, 200))
      if (!found) return noClient()
    }
    const client = await authenticate(presented, ip, found)
    const needed = rule?.allowedBy ?? rule?.type
    if (needed !== undefined && !client.grants.includes(needed))
      throw new UnauthorizedClient(`This client may not use grant_type '${needed.slice(0, 40)}'`)
    return client
  }

  return {
    async add(input, actor) {
      const name = input.name.trim()
      if (!NAME.test(name))
        throw new InvalidInput(
          'A client name is 1 to 100 letters, digits, spaces and . _ - : @ characters',
        )
      const confidential = input.confidential ?? false
      const grants = [...new Set(input.grants ?? defaultGrants)]
      const unknown = grants.find((grant) => !registrable.some((rule) => rule.type === grant))
      if (unknown !== undefined)
        throw new InvalidInput(
          `Unknown grant '${unknown.slice(0, 40)}' (known: ${registrable.map((rule) => rule.type).join(', ')})`,
        )
      const confidentialOnly = grants.find((grant) => rules.get(grant)?.confidentialOnly)
      if (confidentialOnly !== undefined && !confidential)
        throw new InvalidInput(`Only a confidential client may use ${confidentialOnly}`)
      // A client acting for itself holds what it is given and nothing more: the user scopes a login
      // defaults to (DEFAULT_SCOPES) are not a service's to hold.
      const byDefault = grants.includes('client_credentials') ? [] : deps.defaultScopes
      const granted = [...new Set(input.scopes ?? byDefault)]
      try {
        scopes.checkKnown(granted)
      } catch (error) {
        if (error instanceof InvalidScope) throw new InvalidInput(error.message)
        throw error
      }
      const resource = input.resource === undefined ? null : checkResourceUri(input.resource)
      // A resource server authenticates to introspect and to follow the revocation stream.
      if (resource !== null && !confidential)
        throw new InvalidInput('Only a confidential client may be a resource server')
      // The unique index refuses a second one too; asking first gives the operator a clear answer.
      if (resource !== null && (await store.listClients()).some((c) => c.resource === resource))
        throw new InvalidInput(`Another client is the resource server of ${resource}`)
      const secret = confidential ? newSecret() : undefined
      const record: ClientRecord = {
        clientId: `${
          name
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-')
            .replace(/^-|-$/g, '') || 'client'
        }-${randomBytes(6).toString('hex')}`,
        name,
        confidential,
        secretHash: secret?.hash ?? null,
        grants,
        scopes: granted,
        resource,
        createdAt: Date.now(),
      }
      await store.createClient(record)
      await audited(actor, 'create_client', record.clientId)
      return secret ? { client: toView(record), secret: secret.secret } : { client: toView(record) }
    },
    async list() {
      return (await store.listClients()).map(toView)
    },
    async show(clientId) {
      return toView(await found(clientId))
    },
    async remove(clientId, actor) {
      const removed = await store.removeClient(clientId, Date.now())
      if (!removed) throw new NotFound(`No client '${clientId.slice(0, 100)}'`)
      const ended = removed.sessionsEnded
      await audited(
        actor,
        'remove_client',
        clientId,
        `${ended} session${ended === 1 ? '' : 's'} ended`,
      )
      return removed
    },
    async rotateSecret(clientId, actor) {
      const client = await found(clientId)
      if (!client.confidential) throw new InvalidInput('A public client has no secret')
      const secret = newSecret()
      if (!(await store.setClientSecret(clientId, secret.hash)))
        throw new NotFound(`No client '${clientId.slice(0, 100)}'`)
      await audited(actor, 'rotate_client_secret', clientId)
      return secret.secret
    },
    authenticate: (presented, ip) => authenticate(presented, ip),
    admitTokenRequest: (presented, grantType, ip) => admit(presented, grantType, ip),
    admitRevocation: (presented, ip) => admit(presented, undefined, ip),
    async requireResourceServer(presented, ip) {
      if (!presented || presented.secret === undefined)
        throw new InvalidClient(presented?.basic ?? false)
      const found =
        presented.clientId.length > 200 ? undefined : await store.findClient(presented.clientId)
      const client = await authenticate(presented, ip, found)
      // Authenticated first (a wrong secret is counted alike), then refused: a login client may not
      // read other clients' tokens nor follow every session's end.
      if (!found?.resource)
        throw new InvalidClient(
          presented.basic,
          'Only a client registered as a resource server (with a resource) may use this endpoint',
        )
      return client
    },
    async checkResource(resource) {
      if (resource.length > 0 && (await store.listClients()).some((c) => c.resource === resource))
        return resource
      throw new InvalidTarget()
    },
    async stillCurrent(presented) {
      if (presented.secret === undefined || presented.clientId.length > 200) return false
      return secretMatches(await store.findClient(presented.clientId), presented.secret)
    },
    async issueToken(client, requestedScope, from, resource) {
      if (!client || !client.confidential) throw new InvalidClient(false)
      if (!client.grants.includes('client_credentials'))
        throw new UnauthorizedClient("This client may not use grant_type 'client_credentials'")
      const granted = scopes.resolve(requestedScope, client.scopes)
      const access = deps.tokens.issueForClient(client.id, granted, resource)
      await events(auditEvent.clientTokenIssued(client.id, from))
      const response: TokenResponse = {
        access_token: access.token,
        token_type: 'bearer',
        expires_in: access.expiresIn,
      }
      const scope = granted.join(' ')
      if (requestedScope === undefined || requestedScope.trim() !== scope) response.scope = scope
      return response
    },
  }
}
