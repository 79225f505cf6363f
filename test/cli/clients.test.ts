import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli.js'
import { registrableGrantTypes } from '../../src/grants/index.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { captureLogs, tempDir } from '../helper.js'
import { join } from 'node:path'

async function gatehouse(dir: string, args: string[]) {
  const out = captureLogs()
  const err = captureLogs()
  const code = await main(['node', 'gatehouse', ...args], {
    stdin: Readable.from([]),
    stdout: out.stream,
    stderr: err.stream,
    env: { DATABASE_URL: 'sqlite:///users.db', SECRET_KEY: 'cli-test-secret-key-0123456789abcdef' },
    cwd: dir,
  })
  return { code, stdout: out.text(), stderr: err.text() }
}

describe('gatehouse clients', () => {
  it('adds a confidential client printing its secret once as JSON, and stores only a hash', async () => {
    const dir = tempDir()
    const added = await gatehouse(dir, [
      'clients',
      'add',
      'orders',
      '--confidential',
      '--grants',
      'client_credentials',
      '--scopes',
      'items me',
      '--json',
    ])
    expect(added).toMatchObject({ code: 0, stderr: '' })
    const printed = JSON.parse(added.stdout) as { client_id: string; client_secret: string }
    expect(printed).toMatchObject({
      name: 'orders',
      confidential: true,
      grants: ['client_credentials'],
      scopes: ['items', 'me'],
    })
    expect(printed.client_secret).toMatch(/^[\w-]{43}$/)

    const store = openSqliteStore(join(dir, 'users.db'))
    const stored = await store.findClient(printed.client_id)
    await store.close()
    expect(stored?.secretHash).toBeTruthy()
    expect(stored?.secretHash).not.toContain(printed.client_secret)

    const shown = await gatehouse(dir, ['clients', 'show', printed.client_id])
    expect(shown.stdout).toContain('confidential')
    expect(shown.stdout).not.toContain(printed.client_secret)
    const listed = await gatehouse(dir, ['clients', 'list', '--json'])
    expect(JSON.parse(listed.stdout)).toHaveLength(1)
    expect(listed.stdout).not.toContain(printed.client_secret)
  })

  it('registers a confidential client as the resource server of a URI, once per URI', async () => {
    const dir = tempDir()
    const args = ['clients', 'add', 'orders', '--confidential', '--resource']
    const added = await gatehouse(dir, [...args, 'https://orders.example', '--json'])
    expect(added).toMatchObject({ code: 0, stderr: '' })
    const printed = JSON.parse(added.stdout) as { client_id: string }
    expect(printed).toMatchObject({ resource: 'https://orders.example' })
    const shown = await gatehouse(dir, ['clients', 'show', printed.client_id])
    expect(shown.stdout).toContain('resource:     https://orders.example')
    const again = await gatehouse(dir, [...args, 'https://orders.example'])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain('Another client is the resource server of')
    for (const bad of ['orders.example', '/orders', 'https://orders.example/#x']) {
      const refused = await gatehouse(dir, [...args, bad])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toMatch(/absolute URI|fragment/)
    }
    const publicClient = await gatehouse(dir, [
      'clients',
      'add',
      'x',
      '--resource',
      'https://x.example',
    ])
    expect(publicClient.stderr).toContain('confidential')
  })

  it('rotates a secret, removes a client, and refuses unknown grants and public client_credentials', async () => {
    const dir = tempDir()
    const added = JSON.parse(
      (await gatehouse(dir, ['clients', 'add', 'svc', '--confidential', '--json'])).stdout,
    ) as { client_id: string; client_secret: string; grants: string[] }
    expect(added.grants).toEqual(['password', 'refresh_token'])
    const rotated = await gatehouse(dir, ['clients', 'rotate-secret', added.client_id, '--json'])
    const secret = (JSON.parse(rotated.stdout) as { client_secret: string }).client_secret
    expect(secret).not.toBe(added.client_secret)
    expect(await gatehouse(dir, ['clients', 'remove', added.client_id])).toMatchObject({ code: 0 })
    expect((await gatehouse(dir, ['clients', 'show', added.client_id])).code).not.toBe(0)

    const unknown = await gatehouse(dir, ['clients', 'add', 'x', '--grants', 'implicit'])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain("Unknown grant 'implicit'")
    const publicCc = await gatehouse(dir, ['clients', 'add', 'x', '--grants', 'client_credentials'])
    expect(publicCc.stderr).toContain('confidential')
    const spa = await gatehouse(dir, ['clients', 'add', 'spa', '--json'])
    expect(JSON.parse(spa.stdout)).toMatchObject({ confidential: false, client_secret: null })
  })

  it("lists the registry's grants a client may be registered for in the help of add", async () => {
    const help = await gatehouse(tempDir(), ['clients', 'add', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(
      `comma-separated: ${registrableGrantTypes().join(', ')}`,
    )
  })
})
