import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import type * as LoginPage from '../../src/http/routes/login-page.js'
import { build } from '../helper.js'

const PUBLIC_DIR = new URL('../../public/', import.meta.url)
const BUILT_MODULE = new URL('../../dist/http/routes/login-page.js', import.meta.url)
const PAGE_FILES = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/login.js', file: 'login.js', type: 'text/javascript; charset=utf-8' },
  { url: '/login.css', file: 'login.css', type: 'text/css; charset=utf-8' },
  { url: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
  { url: '/favicon.ico', file: 'favicon.svg', type: 'image/svg+xml' },
  { url: '/reset-password?token=x', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/verify-email?token=x', file: 'index.html', type: 'text/html; charset=utf-8' },
]

describe('the login page', () => {
  it.each(PAGE_FILES)(
    'serves $url from public/$file with its type, a strict CSP and nosniff',
    async ({ url, file, type }) => {
      const t = await build()
      const response = await t.app.inject({ method: 'GET', url })
      expect(response.statusCode).toBe(200)
      expect(response.body).toBe(readFileSync(new URL(file, PUBLIC_DIR), 'utf8'))
      expect(response.headers['content-type']).toBe(type)
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      // The recovery pages' addresses hold a one-time token.
      expect(response.headers['referrer-policy']).toBe('no-referrer')
      const csp = String(response.headers['content-security-policy']).split(/;\s*/)
      expect(csp).toContain("default-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp.join(' ')).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    },
  )

  it('loads nothing from elsewhere and has no inline code, which its CSP would block', () => {
    const html = readFileSync(new URL('index.html', PUBLIC_DIR), 'utf8')
    const references = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1])
    expect(new Set(references)).toEqual(
      new Set(['favicon.svg', 'login.css', 'login.js', 'docs', './']),
    )
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=/i)
  })

  it('is hidden from the OpenAPI document', async () => {
    const t = await build()
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, unknown>
    }>()
    expect(Object.keys(doc.paths).filter((path) => /^\/login\.|^\/$/.test(path))).toEqual([])
  })

  it('is shipped in the npm package', async () => {
    const { stdout } = await promisify(execFile)(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: new URL('../../', import.meta.url) },
    )
    const [packed] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
    expect(packed?.files.map((entry) => entry.path)).toEqual(
      expect.arrayContaining(PAGE_FILES.map(({ file }) => `public/${file}`)),
    )
  })

  // `npm test` builds first; a bare `vitest run` on a fresh checkout has no dist/ to check.
  it.skipIf(!existsSync(BUILT_MODULE))(
    'finds public/ from the compiled module in dist/ too',
    async () => {
      const { loginPageRoutes } = (await import(BUILT_MODULE.href)) as typeof LoginPage
      const app = Fastify()
      onTestFinished(() => app.close())
      await app.register(loginPageRoutes)
      const response = await app.inject({ method: 'GET', url: '/' })
      expect(response.statusCode).toBe(200)
      expect(response.body).toBe(readFileSync(new URL('index.html', PUBLIC_DIR), 'utf8'))
    },
  )
})
