// The login page at / driven in a real headless Chromium against a real server: password sign-in,
// the profile, a reload that keeps the session through the stored refresh token, sign-out that
// revokes it, errors from the API, tabs that do not share sessions, and the refresh before expiry.
import { join } from 'node:path'
import { type Browser, type BrowserContext, type Page, type Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { RunningServer } from '../../src/server.js'
import {
  screenshotsDir,
  skipBrowserTests,
  startBrowserFixture,
  type BrowserFixture,
} from '../support/browser.js'

// CI must prove the page works, so there a missing browser fails the suite; locally it only skips.
const skip = skipBrowserTests('login page')
const SCREENSHOTS = screenshotsDir()
const ALICE = {
  username: 'alice',
  password: 'alice-password',
  email: 'alice@example.com',
  fullName: 'Alice Liddell',
}
// Another user for failed logins, so that throttling them never blocks alice.
const BOB = { username: 'bob', password: 'bob-password' }
const REFRESH_TOKEN_KEY = 'gatehouse.refresh_token'

// The page's storage, for the functions page.evaluate runs there (the project has no DOM types).
declare const sessionStorage: { getItem(key: string): string | null }
declare const localStorage: { length: number }
declare const document: {
  documentElement: { scrollWidth: number }
  activeElement: { id: string } | null
}
declare function getComputedStyle(element: unknown): {
  backgroundColor: string
  outlineStyle: string
}

/** What a test saw: every request, and page errors (uncaught exceptions, CSP violations ...). */
interface Opened {
  context: BrowserContext
  page: Page
  origin: string
  requests: Request[]
  problems: string[]
}

const isGrant = (grantType: string) => (request: Request) =>
  request.method() === 'POST' &&
  new URL(request.url()).pathname === '/token' &&
  new URLSearchParams(request.postData() ?? '').get('grant_type') === grantType

describe.skipIf(skip)('the login page at / in headless Chromium', () => {
  let fixture: BrowserFixture | undefined
  let server: RunningServer | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    // One-minute access tokens: the page refreshes them at 48 s, which the clock test reaches by fast-forwarding.
    fixture = await startBrowserFixture({
      users: [ALICE, BOB],
      env: {
        ACCESS_TOKEN_EXPIRE_MINUTES: '1',
        THROTTLE_PAIR_LIMIT: '2',
      },
    })
    ;({ server, browser } = fixture)
  })

  afterAll(async () => {
    await fixture?.close()
  })

  /** A page in a fresh browser context (nothing stored), recording requests and errors. */
  async function openPage(
    options: {
      context?: BrowserContext
      fakeClock?: boolean
      colorScheme?: 'light' | 'dark'
      viewport?: { width: number; height: number }
    } = {},
  ): Promise<Opened> {
    if (!browser || !server) throw new Error('the browser and server did not start')
    const context =
      options.context ??
      (await browser.newContext({
        viewport: options.viewport ?? { width: 800, height: 600 },
        colorScheme: options.colorScheme ?? 'light',
      }))
    if (!options.context) onTestFinished(() => context.close())
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    const requests: Request[] = []
    const problems: string[] = []
    page.on('request', (request) => requests.push(request))
    page.on('pageerror', (error) => problems.push(error.message))
    // Chromium also logs every 4xx answer as an error; those are expected here, anything else is not.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(message.text())
    })
    if (options.fakeClock) {
      // Paused: the page's timers fire only when the test moves the clock, never as real time passes.
      const now = Date.now()
      await page.clock.install({ time: now })
      await page.clock.pauseAt(now + 1_000)
    }
    await page.goto(`${server.url}/`)
    return { context, page, origin: new URL(server.url).origin, requests, problems }
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill(username)
    await page.getByLabel('Password', { exact: true }).fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }

  async function expectProfileOf(page: Page, user: typeof ALICE): Promise<void> {
    await page.getByRole('heading', { name: 'Signed in' }).waitFor()
    expect(await page.locator('#profile-username').innerText()).toBe(user.username)
    expect(await page.locator('#profile-email').innerText()).toBe(user.email)
    expect(await page.locator('#profile-full-name').innerText()).toBe(user.fullName)
    expect(await page.getByRole('form', { name: 'Sign in' }).count()).toBe(0)
  }

  const storedRefreshToken = (page: Page) =>
    page.evaluate((key) => sessionStorage.getItem(key), REFRESH_TOKEN_KEY)

  function expectOwnOriginOnlyAndNoErrors({ requests, origin, problems }: Opened): void {
    expect(
      requests.map((request) => request.url()).filter((url) => new URL(url).origin !== origin),
    ).toEqual([])
    expect(problems).toEqual([])
  }

  it('signs in, keeps the session over a reload by refreshing, and signs out by revoking it', async () => {
    const opened = await openPage()
    const { page, context, requests } = opened
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()

    await signIn(page, ALICE.username, ALICE.password)
    await expectProfileOf(page, ALICE)
    expect(requests.filter(isGrant('password'))).toHaveLength(1)
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-signed-in.png') })
    // The storage decision: the refresh token in this tab's sessionStorage, nothing in localStorage or cookies.
    expect(await storedRefreshToken(page)).toMatch(/^\S{20,}$/)
    expect(await page.evaluate(() => localStorage.length)).toBe(0)
    expect(await context.cookies()).toEqual([])

    const beforeReload = await storedRefreshToken(page)
    const seenBeforeReload = requests.length
    await page.reload()
    await expectProfileOf(page, ALICE)
    const afterReload = requests.slice(seenBeforeReload)
    const refreshes = afterReload.filter(isGrant('refresh_token'))
    expect(refreshes).toHaveLength(1)
    expect(new URLSearchParams(refreshes[0]?.postData() ?? '').get('refresh_token')).toBe(
      beforeReload,
    )
    expect((await refreshes[0]?.response())?.status()).toBe(200)
    expect(afterReload.filter(isGrant('password'))).toEqual([])
    // Refresh tokens are single use: the page keeps the new one.
    const current = await storedRefreshToken(page)
    expect(current).not.toBe(beforeReload)

    const revoked = page.waitForRequest((request) => new URL(request.url()).pathname === '/revoke')
    await page.getByRole('button', { name: 'Sign out' }).click()
    expect(new URLSearchParams((await revoked).postData() ?? '').get('token')).toBe(current)
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    expect(await page.getByRole('heading', { name: 'Signed in' }).isVisible()).toBe(false)
    expect(await storedRefreshToken(page)).toBeNull()
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-signed-out.png') })

    // The session ended on the server, not only in the page.
    const reuse = await fetch(`${server?.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current ?? '' }),
    })
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })

    // Signed out stays signed out over a reload.
    await page.reload()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    expectOwnOriginOnlyAndNoErrors(opened)
  })

  it("shows the API's detail for a wrong password, then for too many failures with the wait", async () => {
    const opened = await openPage()
    const { page } = opened
    const alert = page.getByRole('alert')

    await signIn(page, BOB.username, 'not-his-password')
    await expect.poll(() => alert.innerText()).toBe('Incorrect username or password')
    expect(await page.getByRole('heading', { name: 'Signed in' }).isVisible()).toBe(false)
    expect(await storedRefreshToken(page)).toBeNull()
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-wrong-password.png') })

    // THROTTLE_PAIR_LIMIT=2: the third failure in a row is refused with 429 and Retry-After.
    await signIn(page, BOB.username, 'still-not-his-password')
    await expect.poll(() => alert.innerText()).toBe('Incorrect username or password')
    const throttled = page.waitForResponse((response) => response.status() === 429)
    await signIn(page, BOB.username, 'and-again-not-his')
    await throttled
    await expect
      .poll(() => alert.innerText())
      .toMatch(/^Too many failed login attempts; try again later \(retry in \d+ s\)$/)
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-throttled.png') })
    expectOwnOriginOnlyAndNoErrors(opened)
  })

  it('checks empty fields before sending, and shows each error beside its field', async () => {
    const opened = await openPage()
    const { page, requests } = opened
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await page.getByRole('button', { name: 'Sign in' }).click()

    const username = page.getByLabel('Username', { exact: true })
    expect(await page.locator('#username-error').innerText()).toBe('Enter your username.')
    expect(await page.locator('#password-error').innerText()).toBe('Enter your password.')
    expect(await username.getAttribute('aria-invalid')).toBe('true')
    // The field names its error, so a screen reader reads them together.
    expect(await username.getAttribute('aria-describedby')).toBe('username-error')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('username')
    expect(requests.filter((request) => request.method() === 'POST')).toEqual([])
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-field-errors.png') })

    await username.fill('alice')
    expect(await page.locator('#username-error').isVisible()).toBe(false)
    expect(await username.getAttribute('aria-invalid')).toBeNull()
    expect(await page.locator('#password-error').innerText()).toBe('Enter your password.')
    expectOwnOriginOnlyAndNoErrors(opened)
  })

  it('is a centred card in light and dark colours with a visible focus and an icon', async () => {
    const backgrounds: string[] = []
    for (const colorScheme of ['light', 'dark'] as const) {
      const opened = await openPage({ colorScheme })
      const { page, requests } = opened
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      backgrounds.push(
        await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor),
      )

      const card = await page.locator('.card').boundingBox()
      if (!card) throw new Error('no card')
      expect(Math.abs(card.x + card.width / 2 - 400)).toBeLessThan(2)
      expect(Math.abs(card.y + card.height / 2 - 300)).toBeLessThan(40)

      // Keyboard focus (Tab) draws an outline on the field.
      await page.keyboard.press('Tab')
      const outline = await page
        .getByLabel('Username', { exact: true })
        .evaluate((input) => getComputedStyle(input).outlineStyle)
      expect(outline).toBe('solid')
      await page.screenshot({ path: join(SCREENSHOTS, `login-page-${colorScheme}.png`) })

      const icon = requests.find((request) => new URL(request.url()).pathname === '/favicon.svg')
      expect((await icon?.response())?.status()).toBe(200)
      expectOwnOriginOnlyAndNoErrors(opened)
    }
    expect(backgrounds[0]).not.toBe(backgrounds[1])
  })

  it('fits a phone without sideways scrolling', async () => {
    const opened = await openPage({ viewport: { width: 375, height: 667 } })
    const { page } = opened
    await signIn(page, ALICE.username, ALICE.password)
    await expectProfileOf(page, ALICE)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    const card = await page.locator('.card').boundingBox()
    expect(card?.width).toBeGreaterThan(320)
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-phone.png') })
    expectOwnOriginOnlyAndNoErrors(opened)
  })

  it('goes back to the sign-in form with the reason when the refresh on reload fails', async () => {
    const opened = await openPage()
    const { page } = opened
    await signIn(page, ALICE.username, ALICE.password)
    await expectProfileOf(page, ALICE)
    // The session ends elsewhere (another device's "log out everywhere", an administrator ...).
    const revoked = await fetch(`${server?.url}/revoke`, {
      method: 'POST',
      body: new URLSearchParams({ token: (await storedRefreshToken(page)) ?? '' }),
    })
    expect(revoked.status).toBe(200)

    await page.reload()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    expect(await page.getByRole('alert').innerText()).toBe(
      'Please sign in again: The refresh token is invalid, expired or revoked',
    )
    expect(await storedRefreshToken(page)).toBeNull()
    await page.screenshot({ path: join(SCREENSHOTS, 'login-page-session-ended.png') })
    expectOwnOriginOnlyAndNoErrors(opened)
  })

  it('is not signed in in another tab, nor in a fresh browser', async () => {
    const first = await openPage()
    await signIn(first.page, ALICE.username, ALICE.password)
    await expectProfileOf(first.page, ALICE)

    // A new tab in the same browser shares cookies and localStorage but has its own sessionStorage.
    const tab = await openPage({ context: first.context })
    await tab.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    const fresh = await openPage()
    await fresh.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    for (const opened of [tab, fresh]) {
      expect(await storedRefreshToken(opened.page)).toBeNull()
      expect(opened.requests.filter((request) => request.method() === 'POST')).toEqual([])
      expectOwnOriginOnlyAndNoErrors(opened)
    }
  })

  it('refreshes the access token before it expires', async () => {
    // Playwright's fake clock drives the page's timers, so a minute passes without waiting for it. The
    // server keeps real time, so for it the token is still young: this checks when the page refreshes.
    const opened = await openPage({ fakeClock: true })
    const { page, requests } = opened
    await signIn(page, ALICE.username, ALICE.password)
    await expectProfileOf(page, ALICE)
    const signedIn = await storedRefreshToken(page)

    await page.clock.fastForward('00:45')
    expect(requests.filter(isGrant('refresh_token'))).toEqual([])

    // 55 s after sign-in, 5 s before the one-minute token expires.
    const refreshed = page.waitForRequest(isGrant('refresh_token'))
    await page.clock.fastForward('00:10')
    const refresh = await refreshed
    expect(new URLSearchParams(refresh.postData() ?? '').get('refresh_token')).toBe(signedIn)
    const answer = await refresh.response()
    expect(answer?.status()).toBe(200)
    const tokens = (await answer?.json()) as { refresh_token: string }
    await expect.poll(() => storedRefreshToken(page)).toBe(tokens.refresh_token)
    await expectProfileOf(page, ALICE)
    expectOwnOriginOnlyAndNoErrors(opened)
  })
})
