// The grant registry: what /token dispatches on and what discovery and the OpenAPI text list.
import { describe, expect, it } from 'vitest'
import { InvalidRequest, UnsupportedGrantType } from '../../src/errors.js'
import { requiredParameter } from '../../src/grants/index.js'
import { build } from '../helper.js'

describe('the grant registry', () => {
  it('lists its grants in discovery and in the token endpoint’s description', async () => {
    const t = await build()
    const types = t.services.grants.all.map((grant) => grant.type)
    expect(types.slice(0, 2)).toEqual(['password', 'refresh_token'])
    const metadata = await t.app.inject({
      method: 'GET',
      url: '/.well-known/oauth-authorization-server',
    })
    expect(metadata.json<{ grant_types_supported: string[] }>().grant_types_supported).toEqual(
      types,
    )
    const openapi = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { post?: { description?: string } }>
    }>()
    for (const type of types) expect(openapi.paths['/token']?.post?.description).toContain(type)
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
})
