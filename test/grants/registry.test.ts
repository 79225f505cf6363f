// The grant registry: what /token dispatches on and validates, what discovery and the OpenAPI text
// list, and which grants clients may be registered for. A grant added to the list shows everywhere.
import { Type } from 'typebox'
import { describe, expect, it } from 'vitest'
import { InvalidInput, InvalidRequest, UnsupportedGrantType } from '../../src/errors.js'
import {
  createGrantRegistry,
  GRANTS,
  registrableGrantTypes,
  requiredParameter,
  type Grant,
} from '../../src/grants/index.js'
import { ClientIdParameter, ScopeParameter } from '../../src/grants/parameters.js'
import { build, TEST_ACTOR, tokenRequest, type TestApp } from '../helper.js'

/** Shaped like the authorization_code grant to come: public and confidential clients, bound to one. */
const codeGrant: Grant = {
  type: 'authorization_code',
  summary: '`grant_type=authorization_code` with `code` (a grant of this test)',
  parameters: {
    code: Type.String({ maxLength: 64, description: 'The authorization code' }),
    redirect_uri: Type.String({ maxLength: 2_048, description: 'As in the authorization request' }),
    code_verifier: Type.String({ maxLength: 128, description: 'PKCE (RFC 7636)' }),
    client_id: ClientIdParameter,
  },
  clients: { clientRequired: true },
  exchange: async ({ form, oauthClient }) => ({
    access_token: `${oauthClient?.id}:${requiredParameter(form, 'code')}`,
    token_type: 'bearer',
    expires_in: 60,
  }),
}

/** A grant only confidential clients may be registered for. */
const serviceGrant: Grant = {
  type: 'urn:example:service',
  summary: '`grant_type=urn:example:service` (a grant of this test)',
  parameters: { scope: ScopeParameter },
  clients: { confidentialOnly: true },
  exchange: async () => ({ access_token: 'service', token_type: 'bearer', expires_in: 60 }),
}

interface OpenApiToken {
  description: string
  requestBody: {
    content: Record<string, { schema: { properties: Record<string, { description?: string }> } }>
  }
}

const openApiToken = async (t: TestApp) =>
  (await t.app.inject({ url: '/openapi.json' })).json<{
    paths: Record<string, { post: OpenApiToken }>
  }>().paths['/token']!.post

const supportedGrants = async (t: TestApp) =>
  (await t.app.inject({ url: '/.well-known/oauth-authorization-server' })).json<{
    grant_types_supported: string[]
  }>().grant_types_supported

const registerAsAdmin = async (t: TestApp, payload: Record<string, unknown>) => {
  await t.addUser({ username: 'root', scopes: ['me', 'admin'] })
  return t.app.inject({
    method: 'POST',
    url: '/admin/clients',
    headers: { authorization: `Bearer ${await t.login('root', 'correct horse battery')}` },
    payload,
  })
}

describe('the grant registry', () => {
  it('lists its grants in discovery and in the token endpoint’s description', async () => {
    const t = await build()
    const types = t.services.grants.all.map((grant) => grant.type)
    expect(types.slice(0, 2)).toEqual(['password', 'refresh_token'])
    expect(await supportedGrants(t)).toEqual(types)
    const token = await openApiToken(t)
    for (const grant of GRANTS) expect(token.description).toContain(grant.summary)
    const form = token.requestBody.content['application/x-www-form-urlencoded']!.schema
    for (const type of types) expect(form.properties.grant_type?.description).toContain(type)
    expect(form.properties.otp?.description).toContain('mfa-otp')
  })

  it('refuses other grant types, naming them', async () => {
    const t = await build()
    expect(() => t.services.grants.get('implicit')).toThrow(UnsupportedGrantType)
    expect(() => t.services.grants.get('implicit')).toThrow("'implicit'")
  })

  it('treats a missing or empty parameter as invalid_request', () => {
    expect(() => requiredParameter({}, 'username')).toThrow(InvalidRequest)
    expect(() => requiredParameter({ username: '' }, 'username')).toThrow(
      "Missing required parameter 'username'",
    )
    expect(requiredParameter({ username: 'alice' }, 'username')).toBe('alice')
  })

  it('registers clients for the grants that no other grant stands in for', () => {
    expect(registrableGrantTypes()).toEqual(['password', 'refresh_token', 'client_credentials'])
    expect(createGrantRegistry().registrable).toEqual(registrableGrantTypes())
  })

  it('offers a grant added to the list in the form, the OpenAPI text, the metadata and client registration', async () => {
    const t = await build({ grants: [...GRANTS, codeGrant, serviceGrant] })
    expect(await supportedGrants(t)).toEqual([
      ...GRANTS.map((grant) => grant.type),
      'authorization_code',
      'urn:example:service',
    ])
    const token = await openApiToken(t)
    expect(token.description).toContain(codeGrant.summary)
    const form = token.requestBody.content['application/x-www-form-urlencoded']!.schema
    expect(form.properties.code_verifier?.description).toBe(
      'PKCE (RFC 7636). Grants: authorization_code',
    )
    expect(form.properties.grant_type?.description).toContain('`authorization_code`')
    expect(form.properties.scope?.description).toContain('urn:example:service')

    // The admin API's schema and the clients use-case take their grants from the same list.
    const created = await registerAsAdmin(t, { name: 'spa', grants: ['authorization_code'] })
    expect(created.statusCode).toBe(201)
    const spa = created.json<{ client_id: string }>().client_id
    const web = await t.services.clients.add({ name: 'web' }, TEST_ACTOR)
    expect(web.client.grants).toEqual(['password', 'refresh_token'])

    // Its parameters are the form's, with their limits; its client rule is applied.
    const exchange = (fields: Record<string, string>) =>
      t.app.inject(tokenRequest({ grant_type: 'authorization_code', ...fields }))
    const answer = await exchange({ code: 'abc', client_id: spa })
    expect(answer.statusCode).toBe(200)
    expect(answer.json()).toMatchObject({ access_token: `${spa}:abc` })
    const tooLong = await exchange({ code: 'x'.repeat(65), client_id: spa })
    expect(tooLong.statusCode).toBe(400)
    expect(tooLong.json()).toMatchObject({ error: 'invalid_request' })
    expect((await exchange({ client_id: spa })).json()).toMatchObject({
      error: 'invalid_request',
      error_description: "Missing required parameter 'code'",
    })
    const anonymous = await exchange({ code: 'abc' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ error: 'invalid_client' })
    expect((await exchange({ code: 'abc', client_id: 'nobody' })).statusCode).toBe(401)
    const notRegistered = await exchange({ code: 'abc', client_id: web.client.client_id })
    expect(notRegistered.statusCode).toBe(400)
    expect(notRegistered.json()).toMatchObject({ error: 'unauthorized_client' })

    await expect(
      t.services.clients.add({ name: 'svc', grants: ['urn:example:service'] }, TEST_ACTOR),
    ).rejects.toThrow('Only a confidential client may use urn:example:service')
    const svc = await t.services.clients.add(
      { name: 'svc', confidential: true, grants: ['urn:example:service'] },
      TEST_ACTOR,
    )
    expect(svc.client.grants).toEqual(['urn:example:service'])
  })

  it('refuses a grant the list lacks at /token, in the admin API and in the clients use-case', async () => {
    const t = await build()
    const answer = await t.app.inject(
      tokenRequest({ grant_type: 'authorization_code', code: 'abc' }),
    )
    expect(answer.json()).toMatchObject({ error: 'unsupported_grant_type' })
    expect(
      (await registerAsAdmin(t, { name: 'spa', grants: ['authorization_code'] })).statusCode,
    ).toBe(400)
    const added = t.services.clients.add(
      { name: 'spa', grants: ['authorization_code'] },
      TEST_ACTOR,
    )
    await expect(added).rejects.toThrow(InvalidInput)
    await expect(added).rejects.toThrow(
      "Unknown grant 'authorization_code' (known: password, refresh_token, client_credentials)",
    )
  })

  it('refuses a list that contradicts itself', () => {
    const otherScope: Grant = {
      ...codeGrant,
      parameters: { scope: Type.String({ maxLength: 10, description: 'Scopes' }) },
    }
    expect(() => createGrantRegistry([...GRANTS, otherScope])).toThrow(
      "grant 'authorization_code' declares parameter 'scope' unlike another",
    )
    expect(() => createGrantRegistry([...GRANTS, GRANTS[0]!])).toThrow('same grant_type')
    const orphan: Grant = { ...codeGrant, clients: { allowedBy: 'implicit' } }
    expect(() => createGrantRegistry([...GRANTS, orphan])).toThrow("allowed by 'implicit'")
  })
})
