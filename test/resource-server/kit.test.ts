// The resource-server kit against a real Gatehouse over a socket: the three framework adapters (users'
// routes and routes that allow clients), an EdDSA Gatehouse (published keys) and an HS256 one (tokens
// verified by introspection, never with its SECRET_KEY), introspection and the revocation event stream,
// and an independent JWKS client (jose's own). The example as a process: example-e2e.test.ts; the core
// against a fake issuer with keys of the test's own: verify.test.ts.
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { requireScopes as expressScopes } from '../../packages/kit/src/express.js'
import {
  createGatehouseVerifierFor,
  requireScopes as fastifyScopes,
} from '../../packages/kit/src/fastify.js'
import { requireScopes as honoScopes, type GatehouseEnv } from '../../packages/kit/src/hono.js'
import {
  createGatehouseVerifier,
  type GatehousePrincipal,
  type GatehouseVerifierOptions,
  type UserPrincipal,
} from '../../packages/kit/src/verify.js'
import { buildShared, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'
import { freePort } from '../support/server-process.js'

/** A Gatehouse listening on a socket, its ISSUER its own address. */
async function gatehouse(env: Record<string, string>) {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const t = await buildShared({ env: { ISSUER: issuer, ...env } })
  await t.app.listen({ port, host: '127.0.0.1' })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  const rs = await t.services.clients.add(
    {
      name: 'orders',
      confidential: true,
      grants: ['client_credentials'],
      scopes: ['items'],
      resource: 'https://orders.example',
    },
    TEST_ACTOR,
  )
  return { t, issuer, clientId: rs.client.client_id, clientSecret: rs.secret! }
}

async function login(t: TestApp, scope?: string) {
  const fields = { username: 'alice', password: 'alice-password', ...(scope ? { scope } : {}) }
  return (await t.app.inject(tokenRequest(fields))).json<{
    access_token: string
    refresh_token: string
  }>()
}

/** A token of the registered client itself (client_credentials). */
async function clientToken(g: Awaited<ReturnType<typeof gatehouse>>) {
  const issued = await fetch(`${g.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${btoa(`${g.clientId}:${g.clientSecret}`)}`,
    },
    body: 'grant_type=client_credentials',
  })
  return ((await issued.json()) as { access_token: string }).access_token
}

type Started = { url: string; close: () => Promise<void> }

const urlOf = (input: Parameters<typeof fetch>[0]) =>
  input instanceof Request ? input.url : input.toString()

/**
 * Each framework's service: /orders for users' tokens with `items`, /reports for any token with
 * `items`, clients' own included. The Express and Hono ones close their verifier, Fastify's closes with
 * the app.
 */
const frameworks: Record<string, (options: GatehouseVerifierOptions) => Promise<Started>> = {
  async express(options) {
    const verifier = createGatehouseVerifier(options)
    const app = express()
    app.get('/orders', expressScopes(verifier, 'items'), (req, res) => {
      res.json({ owner: req.principal?.username, principal: req.principal })
    })
    app.get('/reports', expressScopes(verifier, 'items', { allowClients: true }), (req, res) => {
      res.json({ principal: req.principal })
    })
    const server: Server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        await new Promise((resolve) => server.close(resolve))
        await verifier.close()
      },
    }
  },
  async fastify(options) {
    const app = Fastify()
    const verifier = createGatehouseVerifierFor(app, options)
    app.get('/orders', { onRequest: fastifyScopes(verifier, 'items') }, async (request) => ({
      owner: request.principal?.username,
      principal: request.principal,
    }))
    app.get(
      '/reports',
      { onRequest: fastifyScopes(verifier, 'items', { allowClients: true }) },
      async (request) => ({ principal: request.principal }),
    )
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url, close: () => app.close() }
  },
  async hono(options) {
    const verifier = createGatehouseVerifier(options)
    const app = new Hono<GatehouseEnv>()
    app.get('/orders', honoScopes(verifier, 'items'), (c) => {
      // Typed by the middleware: a user's principal here, any principal on /reports.
      expectTypeOf(c.get('principal')).toEqualTypeOf<UserPrincipal>()
      return c.json({ owner: c.get('principal').username, principal: c.get('principal') })
    })
    app.get('/reports', honoScopes(verifier, 'items', { allowClients: true }), (c) => {
      expectTypeOf(c.get('principal')).toEqualTypeOf<GatehousePrincipal>()
      return c.json({ principal: c.get('principal') })
    })
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await once(server, 'listening')
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        await new Promise((resolve) => server.close(resolve))
        await verifier.close()
      },
    }
  },
}

describe('the resource-server kit against an EdDSA Gatehouse', () => {
  let g: Awaited<ReturnType<typeof gatehouse>>
  const started: Started[] = []
  const start = async (name: string, options: Partial<GatehouseVerifierOptions> = {}) => {
    const service = await frameworks[name]!({ issuer: g.issuer, ...options })
    started.push(service)
    return service
  }

  beforeAll(async () => {
    g = await gatehouse({ ALGORITHM: 'EdDSA' })
  })
  afterAll(async () => {
    await Promise.all(started.map((service) => service.close()))
    await g.t.close()
  })

  describe.each(Object.keys(frameworks))('%s', (name) => {
    it('verifies a token with the published keys and puts a typed principal on the request', async () => {
      const service = await start(name)
      const tokens = await login(g.t)
      const answer = await fetch(`${service.url}/orders`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      expect(answer.status).toBe(200)
      const body = (await answer.json()) as { owner: string; principal: Record<string, unknown> }
      expect(body.owner).toBe('alice')
      expect(body.principal).toMatchObject({
        username: 'alice',
        subject: 'alice',
        scopes: ['me', 'items'],
        client: null,
      })
      expect(body.principal.session).toEqual(expect.any(String))
    })

    it('answers as Gatehouse does: 401 with a challenge, 403 insufficient_scope with the scope', async () => {
      const service = await start(name)
      const none = await fetch(`${service.url}/orders`)
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Bearer')
      expect(await none.json()).toEqual({ detail: 'Not authenticated' })
      const forged = await fetch(`${service.url}/orders`, {
        headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.' },
      })
      expect(forged.status).toBe(401)
      expect(forged.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
      expect(await forged.json()).toEqual({ detail: 'Could not validate credentials' })
      const meOnly = await login(g.t, 'me')
      const narrow = await fetch(`${service.url}/orders`, {
        headers: { authorization: `Bearer ${meOnly.access_token}` },
      })
      expect(narrow.status).toBe(403)
      expect(narrow.headers.get('www-authenticate')).toBe(
        'Bearer error="insufficient_scope", scope="items"',
      )
      expect(await narrow.json()).toEqual({ detail: 'Not enough permissions' })
    })

    it("refuses a client's own token unless the route allows clients", async () => {
      const service = await start(name)
      const token = await clientToken(g)
      const call = (path: string) =>
        fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      const orders = await call('/orders')
      expect(orders.status).toBe(401)
      expect(orders.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
      const reports = await call('/reports')
      expect(reports.status).toBe(200)
      expect(((await reports.json()) as { principal: unknown }).principal).toMatchObject({
        username: null,
        session: null,
        subject: g.clientId,
        client: g.clientId,
        scopes: ['items'],
      })
      // A user's token passes a route that allows clients too.
      const { access_token: userToken } = await login(g.t)
      const user = await fetch(`${service.url}/reports`, {
        headers: { authorization: `Bearer ${userToken}` },
      })
      expect(user.status).toBe(200)
      expect(((await user.json()) as { principal: unknown }).principal).toMatchObject({
        username: 'alice',
      })
    })

    it('in introspect mode refuses a token whose session ended at Gatehouse', async () => {
      const service = await start(name, {
        revocation: {
          mode: 'introspect',
          clientId: g.clientId,
          clientSecret: g.clientSecret,
          cacheSeconds: 0,
        },
      })
      const tokens = await login(g.t)
      const call = () =>
        fetch(`${service.url}/orders`, {
          headers: { authorization: `Bearer ${tokens.access_token}` },
        })
      expect((await call()).status).toBe(200)
      await g.t.services.sessions.revokeToken(tokens.refresh_token)
      expect((await call()).status).toBe(401)
    })

    it('in events mode refuses a token whose session ended at Gatehouse, with no call per request', async () => {
      const service = await start(name, {
        revocation: { mode: 'events', clientId: g.clientId, clientSecret: g.clientSecret },
      })
      const tokens = await login(g.t)
      const call = () =>
        fetch(`${service.url}/orders`, {
          headers: { authorization: `Bearer ${tokens.access_token}` },
        })
      expect((await call()).status).toBe(200)
      const logout = await fetch(`${g.issuer}/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      expect(logout.status).toBe(204)
      // The event arrives over the stream; no signal reaches the test but the service's answer.
      await vi.waitFor(async () => expect((await call()).status).toBe(401), {
        timeout: 1_000,
        interval: 20,
      })
    })
  })

  it('refuses a token for another audience or issuer', async () => {
    const tokens = await login(g.t)
    const otherAudience = createGatehouseVerifier({ issuer: g.issuer, audience: 'https://billing' })
    await expect(otherAudience.verify(tokens.access_token)).rejects.toMatchObject({ status: 401 })
  })

  it('accepts a client_credentials token as a client principal where clients are allowed', async () => {
    const token = await clientToken(g)
    const verifier = createGatehouseVerifier({ issuer: g.issuer })
    await expect(verifier.verify(token, ['items'])).rejects.toMatchObject({ status: 401 })
    const principal = await verifier.verify(token, ['items'], { allowClients: true })
    expect(principal).toMatchObject({
      username: null,
      subject: g.clientId,
      client: g.clientId,
      session: null,
      scopes: ['items'],
    })
  })

  it("is verified by jose's own remote JWKS set, independently of the kit", async () => {
    const tokens = await login(g.t)
    const jwks = createRemoteJWKSet(new URL(`${g.issuer}/.well-known/jwks.json`))
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: g.issuer,
      audience: g.issuer,
      typ: 'at+jwt',
      algorithms: ['EdDSA'],
    })
    expect(protectedHeader.alg).toBe('EdDSA')
    expect(payload.sub).toBe('alice')
  })
})

describe('the resource-server kit against an HS256 Gatehouse, without its SECRET_KEY', () => {
  let g: Awaited<ReturnType<typeof gatehouse>>
  beforeAll(async () => {
    g = await gatehouse({ ALGORITHM: 'HS256' })
  })
  afterAll(async () => {
    await g.t.close()
  })

  it.each(['introspect', 'events'] as const)(
    'in %s mode verifies by introspection, says so once, and refuses an ended session',
    async (mode) => {
      const notices: Error[] = []
      let introspections = 0
      const verifier = createGatehouseVerifier({
        issuer: g.issuer,
        revocation: {
          mode,
          clientId: g.clientId,
          clientSecret: g.clientSecret,
          ...(mode === 'introspect' ? { cacheSeconds: 0 } : {}),
          onError: (error) => notices.push(error),
        },
        fetch: (input, init) => {
          if (urlOf(input).endsWith('/introspect')) introspections++
          return fetch(input, init)
        },
      })
      try {
        const tokens = await login(g.t)
        const principal = await verifier.verify(tokens.access_token, ['me', 'items'])
        expect(principal).toMatchObject({ username: 'alice', scopes: ['me', 'items'] })
        expect(principal.session).toEqual(expect.any(String))
        expect(principal.claims).toMatchObject({ iss: g.issuer, aud: g.issuer, sub: 'alice' })
        const asked = introspections
        expect(asked).toBeGreaterThan(0)
        expect((await verifier.verify(tokens.access_token)).username).toBe('alice')
        // introspect with cacheSeconds 0 asks each time; events mode reuses the answer a few seconds.
        expect(introspections - asked).toBe(mode === 'introspect' ? 1 : 0)
        expect(notices.map((notice) => notice.message)).toEqual([
          expect.stringContaining('verified by introspection'),
        ])

        await g.t.services.sessions.revokeToken(tokens.refresh_token)
        await vi.waitFor(
          () => expect(verifier.verify(tokens.access_token)).rejects.toMatchObject({ status: 401 }),
          { timeout: 1_000, interval: 20 },
        )
        const forged = `${tokens.access_token.slice(0, -4)}AAAA`
        await expect(verifier.verify(forged)).rejects.toMatchObject({ status: 401 })
      } finally {
        await verifier.close()
      }
    },
  )

  it('refuses to be given the secret', () => {
    expect(() =>
      createGatehouseVerifier({ issuer: g.issuer, secret: 'x'.repeat(40) } as never),
    ).toThrow(/never needs Gatehouse's SECRET_KEY/)
  })
})

describe('the kit as a package of its own', () => {
  it('imports nothing of the server: only jose, eventsource-parser and its own modules', async () => {
    const { readdirSync, readFileSync } = await import('node:fs')
    const dir = 'packages/kit/dist'
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.js'))) {
      const text = readFileSync(`${dir}/${file}`, 'utf8')
      const imports = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)].map(
        (match) => match[1],
      )
      for (const specifier of imports)
        expect(specifier, file).toMatch(/^(jose|eventsource-parser|\.\/[\w-]+\.js)$/)
    }
  })

  it('is exported as subpaths of gatehouse-auth-kit, and re-exported by gatehouse-auth', async () => {
    const { createRequire } = await import('node:module')
    const require = createRequire(import.meta.url)
    const kit = require('../../packages/kit/package.json') as {
      exports: Record<string, { default: string }>
    }
    const server = require('../../package.json') as {
      exports: Record<string, { default: string }>
    }
    expect(kit.exports['.']?.default).toBe('./dist/verify.js')
    for (const name of ['verify', 'express', 'fastify', 'hono']) {
      expect(kit.exports[`./${name}`]?.default).toBe(`./dist/${name}.js`)
      expect(server.exports[`./${name}`]?.default).toBe(`./dist/kit/${name}.js`)
    }
    const fromKit = (await import('gatehouse-auth-kit/express')) as Record<string, unknown>
    const reExported = (await import('gatehouse-auth/express')) as Record<string, unknown>
    expect(typeof fromKit.requireScopes).toBe('function')
    // The same functions, not a copy: a verifier made by one works with the other's adapters.
    expect(reExported.requireScopes).toBe(fromKit.requireScopes)
    expect(reExported.createGatehouseVerifier).toBe(fromKit.createGatehouseVerifier)
    const verify = (await import('gatehouse-auth/verify')) as Record<string, unknown>
    expect(verify.createGatehouseVerifier).toBe(fromKit.createGatehouseVerifier)
  })
})
