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
} from '../../errors.js'
import type { TokenService } from '../../security/tokens.js'
import type { ClientRecord, ClientStore } from '../../store/contract.js'
import type { Actor, ClientInfo } from '../shared/actor.js'
import type { LoginThrottle } from '../throttle/login-throttle.js'
import type { ScopeCatalog } from '../scopes/scopes.js'
import { auditEvent, type ClientAdminAction } from '../audit/audit-events.js'
import type { SecurityEvents } from '../audit/security-events.js'
import type { AuthenticatedClient } from '../shared/authenticated-client.js'
import type { TokenResponse } from '../shared/token-response.js'

/** The grant types a client may be registered for. */
export const CLIENT_GRANT_TYPES = ['password', 'refresh_token', 'client_credentials'] as const

/** What a client is shown as (never its secret or its hash). */
export interface ClientView {
  client_id: string
  name: string
  confidential: boolean
  grants: string[]
  scopes: string[]
  created_at: string
}

export interface NewClient {
  name: string
  confidential?: boolean
  /** Defaults to password and refresh_token. */
  grants?: string[]
  /** Defaults to DEFAULT_SCOPES. */
  scopes?: string[]
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
   * The client a token request acts for, with `grantType` checked against it: undefined when none
   * was named and REQUIRE_CLIENT is off (the FastAPI tutorial's clients name none).
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
  /** A confidential client that authenticated (introspection); InvalidClient otherwise. */
  requireConfidential(
    presented: PresentedClient | undefined,
    ip: string,
  ): Promise<AuthenticatedClient>
  /**
   * grant_type=client_credentials (RFC 6749 §4.4): an access token whose subject is the client, with
   * the client's scopes (or the requested part of them), and no refresh token.
   */
  issueToken(
    client: AuthenticatedClient | undefined,
    requestedScope: string | undefined,
    from: ClientInfo,
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

function toView(client: ClientRecord): ClientView {
  return {
    client_id: client.clientId,
    name: client.name,
    confidential: client.confidential,
    grants: client.grants,
    scopes: client.scopes,
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

  const audited = (actor: Actor, action: ClientAdminAction, clientId: string, note?: string) =>
    events(auditEvent.clientChanged(actor, action, clientId, note))

  const found = async (clientId: string): Promise<ClientRecord> => {
    const client = await store.findClient(clientId)
    if (!client) throw new NotFound(`No client '${clientId.slice(0, 100)}'`)
    return client
  }

  const authenticate = async (
    presented: PresentedClient,
    ip: string,
  ): Promise<AuthenticatedClient> => {
    const { clientId, secret, basic } = presented
    if (clientId.length > 200) throw new InvalidClient(basic)
    if (secret === undefined) {
      // A public client only names itself; a confidential one must prove it.
      const client = await store.findClient(clientId)
      if (!client || client.confidential) throw new InvalidClient(basic)
      return toAuthenticated(client)
    }
    // Counted before the check, like a password: guessing secrets is throttled per client and address.
    const reservation = await deps.throttle.reserve(`client:${clientId}`, ip)
    const client = await store.findClient(clientId)
    const expected =
      client?.secretHash != null ? Buffer.from(client.secretHash, 'base64url') : DUMMY_HASH
    // Constant time over the digests: the comparison says nothing about how much of a secret matched.
    const matches =
      expected.length === 32 &&
      timingSafeEqual(hashSecret(secret), expected) &&
      client?.confidential
    if (!client || !matches) {
      // Like a failed login: recorded (bounded per client address by the audit trail), never the secret.
      await events(auditEvent.clientAuthenticationFailed(clientId, ip))
      throw new InvalidClient(basic)
    }
    await reservation.succeeded()
    return toAuthenticated(client)
  }

  const admit = async (
    presented: PresentedClient | undefined,
    grantType: string | undefined,
    ip: string,
  ): Promise<AuthenticatedClient | undefined> => {
    if (!presented) {
      if (deps.requireClient) throw new InvalidClient(false, 'A registered client is required')
      if (grantType === 'client_credentials') throw new InvalidClient(false)
      return undefined
    }
    // Drop-in: without REQUIRE_CLIENT, a client_id nobody registered (Swagger UI's, a tutorial
    // client's, which FastAPI's OAuth2PasswordRequestForm ignores) is ignored, as before clients existed.
    if (!deps.requireClient && !(await store.findClient(presented.clientId.slice(0, 200))))
      return undefined
    const client = await authenticate(presented, ip)
    if (grantType !== undefined && !client.grants.includes(grantType))
      throw new UnauthorizedClient(`This client may not use grant_type '${grantType.slice(0, 40)}'`)
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
      const grants = [...new Set(input.grants ?? ['password', 'refresh_token'])]
      const unknown = grants.find(
        (grant) => !(CLIENT_GRANT_TYPES as readonly string[]).includes(grant),
      )
      if (unknown !== undefined)
        throw new InvalidInput(
          `Unknown grant '${unknown.slice(0, 40)}' (known: ${CLIENT_GRANT_TYPES.join(', ')})`,
        )
      if (grants.includes('client_credentials') && !confidential)
        throw new InvalidInput('Only a confidential client may use client_credentials')
      const granted = [...new Set(input.scopes ?? deps.defaultScopes)]
      try {
        scopes.checkKnown(granted)
      } catch (error) {
        if (error instanceof InvalidScope) throw new InvalidInput(error.message)
        throw error
      }
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
    authenticate,
    admitTokenRequest: (presented, grantType, ip) => admit(presented, grantType, ip),
    admitRevocation: (presented, ip) => admit(presented, undefined, ip),
    async requireConfidential(presented, ip) {
      if (!presented || presented.secret === undefined)
        throw new InvalidClient(presented?.basic ?? false)
      return authenticate(presented, ip)
    },
    async issueToken(client, requestedScope, from) {
      if (!client || !client.confidential) throw new InvalidClient(false)
      if (!client.grants.includes('client_credentials'))
        throw new UnauthorizedClient("This client may not use grant_type 'client_credentials'")
      const granted = scopes.resolve(requestedScope, client.scopes)
      const access = deps.tokens.issueForClient(client.id, granted)
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
