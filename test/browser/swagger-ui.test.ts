// The interactive docs driven in a real headless Chromium: Authorize logs in through POST /token,
// "Try it out" calls GET /users/me/ with the token, a wrong password shows Swagger UI's auth error,
// and the page never reaches beyond the server (Swagger UI is served locally, no CDN).
import { join } from 'node:path'
import { type Browser, type Page, type Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { RunningServer } from '../../src/server.js'
import {
  screenshotsDir,
  skipBrowserTests,
  startBrowserFixture,
  type BrowserFixture,
} from '../support/browser.js'

// CI must prove the page works, so there a missing browser fails the suite; locally it only skips.
const skip = skipBrowserTests('Swagger UI')
const SCREENSHOTS = screenshotsDir()
const USERNAME = 'alice'
const PASSWORD = 'alice-password'

describe.skipIf(skip)('Swagger UI at /docs in headless Chromium', () => {
  let fixture: BrowserFixture | undefined
  let server: RunningServer | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    fixture = await startBrowserFixture({
      users: [{ username: USERNAME, password: PASSWORD }],
    })
    ;({ server, browser } = fixture)
  })

  afterAll(async () => {
    await fixture?.close()
  })

  /** The docs in a fresh browser context (no stored authorization), with every request URL recorded. */
  async function openDocs(
    path = '/docs',
    viewport = { width: 1280, height: 900 },
  ): Promise<{ page: Page; origin: string; requested: string[] }> {
    if (!browser || !server) throw new Error('the browser and server did not start')
    const context = await browser.newContext({ viewport })
    onTestFinished(() => context.close())
    const requested: string[] = []
    context.on('request', (request) => requested.push(request.url()))
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    await page.goto(`${server.url}${path}`)
    return { page, origin: new URL(server.url).origin, requested }
  }

  /** Fill the OAuth2 password-flow dialog and submit it; resolves with the request it sent. */
  async function authorize(page: Page, password: string): Promise<Request> {
    await page.locator('.auth-wrapper').getByRole('button', { name: 'Authorize' }).click()
    const dialog = page.locator('.dialog-ux')
    await dialog.getByLabel('username:').fill(USERNAME)
    await dialog.getByLabel('password:').fill(password)
    // The request, not the response: a POST sent to the wrong place must fail on its URL, not time out.
    const tokenRequest = page.waitForRequest((request) => request.method() === 'POST')
    await dialog.getByRole('button', { name: 'Apply given OAuth2 credentials' }).click()
    return tokenRequest
  }

  it('logs in from Authorize through POST /token and shows the user from Try it out on GET /users/me/', async () => {
    const { page, origin, requested } = await openDocs()

    const tokenRequest = await authorize(page, PASSWORD)
    // Authorize must reach the server's token endpoint, not a path beside the docs page (/docs/token).
    expect(tokenRequest.url()).toBe(`${origin}/token`)
    expect((await tokenRequest.response())?.status()).toBe(200)
    const dialog = page.locator('.dialog-ux')
    // Exact: the error text "Unauthorized" would match a substring search.
    await dialog.getByText('Authorized', { exact: true }).waitFor()
    expect(await dialog.getByRole('button', { name: 'Remove authorization' }).count()).toBe(1)
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-authorized.png') })
    await dialog.getByRole('button', { name: 'Close', exact: true }).click()

    // GET, not PATCH, of the same path.
    const operation = page.locator('.opblock.opblock-get', {
      has: page.locator('.opblock-summary-path[data-path="/users/me/"]'),
    })
    await operation.locator('.opblock-summary').click()
    await operation.getByRole('button', { name: 'Try it out' }).click()
    const executed = page.waitForRequest(
      (request) => request.method() === 'GET' && request.resourceType() === 'fetch',
    )
    await operation.getByRole('button', { name: 'Execute' }).click()
    const meRequest = await executed
    expect(meRequest.url()).toBe(`${origin}/users/me/`)
    expect((await meRequest.response())?.status()).toBe(200)

    const shown = operation.locator('.live-responses-table .response')
    expect((await shown.locator('.response-col_status').innerText()).trim()).toBe('200')
    const body = JSON.parse(
      await shown.locator('.response-col_description pre.microlight').first().innerText(),
    ) as unknown
    expect(body).toMatchObject({ username: USERNAME, disabled: false })
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-users-me.png'), fullPage: true })

    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([])
    expect(requested).toContain(`${origin}/docs/json`)
  })

  it('is branded Gatehouse, with no URL bar and no Fastify logo', async () => {
    const { page, origin, requested } = await openDocs()
    await page.locator('.opblock').first().waitFor()
    expect(await page.title()).toBe('Gatehouse API')
    const logo = page.locator('.topbar-wrapper img')
    await logo.waitFor()
    expect(await logo.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/)
    expect(await page.locator('.download-url-wrapper').isVisible()).toBe(false)
    expect(await page.locator('.info .title').innerText()).toMatch(/^Gatehouse/)
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-overview.png') })
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([])
  })

  it("keeps the Authorize dialog's buttons in view on a small window", async () => {
    const viewport = { width: 1024, height: 640 }
    const { page } = await openDocs('/docs', viewport)
    await page.locator('.auth-wrapper').getByRole('button', { name: 'Authorize' }).click()
    const apply = page
      .locator('.dialog-ux')
      .getByRole('button', { name: 'Apply given OAuth2 credentials' })
    await apply.waitFor()
    const box = await apply.boundingBox()
    if (!box) throw new Error('the Authorize button has no box')
    // Without scrolling: the whole button lies inside the window.
    expect(box.y).toBeGreaterThanOrEqual(0)
    expect(box.y + box.height).toBeLessThanOrEqual(viewport.height)
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-authorize-dialog.png') })
  })

  it('logs in from Authorize when the docs are opened at /docs/ with a trailing slash', async () => {
    // Swagger UI resolves the relative tokenUrl `token` against the page: /docs/ must redirect to /docs.
    const { page, origin, requested } = await openDocs('/docs/')

    const tokenRequest = await authorize(page, PASSWORD)
    expect(tokenRequest.url()).toBe(`${origin}/token`)
    expect((await tokenRequest.response())?.status()).toBe(200)
    await page.locator('.dialog-ux').getByText('Authorized', { exact: true }).waitFor()

    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([])
  })

  it('shows the auth error in the Authorize dialog for a wrong password', async () => {
    const { page, origin, requested } = await openDocs()

    const tokenRequest = await authorize(page, 'not-her-password')
    expect(tokenRequest.url()).toBe(`${origin}/token`)
    expect((await tokenRequest.response())?.status()).toBe(401)
    const dialog = page.locator('.dialog-ux')
    const error = dialog.locator('.errors')
    await error.waitFor()
    const text = await error.innerText()
    expect(text).toMatch(/auth error/i)
    expect(text).toContain('Incorrect username or password')
    expect(await dialog.getByText('Authorized', { exact: true }).count()).toBe(0)
    expect(await dialog.getByRole('button', { name: 'Remove authorization' }).count()).toBe(0)
    await error.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-auth-error.png') })

    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([])
  })
})
