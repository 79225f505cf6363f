// The login page at / with its script, stylesheet and icon: static files from the package's public/, read
// once when the app is built. Its Content-Security-Policy allows this origin only (no inline code, no
// other hosts) and no framing. Not an API, so hidden from the OpenAPI document.
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'

// Relative to this module, which is three levels below the package root both as src/http/routes/*.ts
// (tsx, vitest) and as dist/http/routes/*.js (the installed package).
const PUBLIC_DIR = new URL('../../../public/', import.meta.url)

// default-src covers scripts, styles and fetch(); the other directives do not fall back to it.
// frame-ancestors 'none' keeps the sign-in form out of other sites' frames (clickjacking).
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const FILES = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  // The pages the recovery mails link to: the same page, which shows the matching form.
  { url: '/reset-password', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/verify-email', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/login.js', file: 'login.js', type: 'text/javascript; charset=utf-8' },
  { url: '/login.css', file: 'login.css', type: 'text/css; charset=utf-8' },
  { url: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
  // Browsers ask for /favicon.ico whatever a page links; they show an SVG served with its type.
  { url: '/favicon.ico', file: 'favicon.svg', type: 'image/svg+xml' },
] as const

export async function loginPageRoutes(app: FastifyInstance): Promise<void> {
  for (const { url, file, type } of FILES) {
    const body = await readFile(new URL(file, PUBLIC_DIR))
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type(type)
        .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
        .header('X-Content-Type-Options', 'nosniff')
        // The recovery pages' addresses carry a one-time token: never sent on as a Referer.
        .header('Referrer-Policy', 'no-referrer')
        // A few KB fetched afresh each time: the names carry no version, so a cached script could outlive an upgrade.
        .header('Cache-Control', 'no-cache')
        .send(body),
    )
  }
}
