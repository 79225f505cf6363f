// The login page's second factor in headless Chromium against a real server: enrolment from the
// profile (QR code drawn from the server's SVG, confirmation, recovery codes shown once), the code
// step after the password, the recovery-code alternative, and removal. Codes are computed here.
import { Secret, TOTP } from 'otpauth'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { RunningServer } from '../../src/server.js'
import { skipBrowserTests, startBrowserFixture, type BrowserFixture } from '../support/browser.js'

const skip = skipBrowserTests('login page (MFA)')
const CAROL = { username: 'carol', password: 'carol-password', email: 'carol@example.com' }

const code = (secret: string, offset = 0) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * 30_000 })

describe.skipIf(skip)('the login page with two-step verification, in headless Chromium', () => {
  let fixture: BrowserFixture | undefined
  let server: RunningServer | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    fixture = await startBrowserFixture({
      users: [CAROL],
    })
    ;({ server, browser } = fixture)
  })

  afterAll(async () => {
    await fixture?.close()
  })

  async function openPage(): Promise<{ page: Page; problems: string[] }> {
    if (!browser || !server) throw new Error('the browser and server did not start')
    const context = await browser.newContext()
    onTestFinished(() => context.close())
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(message.text())
    })
    await page.goto(`${server.url}/`)
    return { page, problems }
  }

  async function signIn(page: Page): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill(CAROL.username)
    await page.getByLabel('Password', { exact: true }).fill(CAROL.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }

  it('enrols, then asks for the code after the password, accepts a recovery code instead, and removes the factor', async () => {
    const { page, problems } = await openPage()
    await signIn(page)
    await page.getByRole('heading', { name: 'Signed in' }).waitFor()
    await page.getByText('Two-step verification is off.').waitFor()

    await page.getByRole('button', { name: 'Set up two-step verification' }).click()
    await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor()
    // The QR code is drawn as shapes in the page (no data: image, which the CSP forbids).
    expect(await page.locator('#enrol-qr svg path').count()).toBeGreaterThan(0)
    const secret = await page.locator('#enrol-secret').innerText()
    expect(secret).toMatch(/^[A-Z2-7]{32}$/)
    await page.getByLabel('Code from the app').fill(code(secret, -1))
    await page.getByRole('button', { name: 'Confirm' }).click()
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor()
    const recoveryCodes = await page.locator('#recovery-codes li').allInnerTexts()
    expect(recoveryCodes).toHaveLength(10)
    await page.getByRole('button', { name: 'I have saved them' }).click()
    await page.getByText('Two-step verification is on (10 recovery codes left).').waitFor()
    expect(await page.locator('#recovery-codes li').count()).toBe(0)

    // Signed out, the password alone leads to the code step.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await signIn(page)
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor()
    await page.getByLabel('Code from your authenticator app').fill('000000')
    await page.getByRole('button', { name: 'Verify' }).click()
    await page.getByRole('alert').filter({ hasText: 'Invalid or already used code' }).waitFor()
    await page.getByLabel('Code from your authenticator app').fill(code(secret))
    await page.getByRole('button', { name: 'Verify' }).click()
    await page.getByRole('heading', { name: 'Signed in' }).waitFor()

    // A recovery code instead of the app.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await signIn(page)
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click()
    await page.getByLabel('Recovery code', { exact: true }).fill(recoveryCodes[0]!)
    await page.getByRole('button', { name: 'Verify' }).click()
    await page.getByRole('heading', { name: 'Signed in' }).waitFor()
    await page.getByText('Two-step verification is on (9 recovery codes left).').waitFor()

    // Removal needs the password again and a code of the factor; afterwards the password alone signs in.
    await page.getByRole('button', { name: 'Remove two-step verification' }).click()
    await page.getByLabel('Your password', { exact: true }).fill(CAROL.password)
    await page.getByLabel('Code from your app, or a recovery code').fill('000000')
    await page.getByRole('button', { name: 'Remove', exact: true }).click()
    await page.locator('#remove-code-error').getByText('Invalid or already used code').waitFor()
    await page.getByLabel('Your password', { exact: true }).fill(CAROL.password)
    await page.getByLabel('Code from your app, or a recovery code').fill(recoveryCodes[1]!)
    await page.getByRole('button', { name: 'Remove', exact: true }).click()
    await page.getByText('Two-step verification is off.').waitFor()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await signIn(page)
    await page.getByRole('heading', { name: 'Signed in' }).waitFor()
    expect(problems).toEqual([])
  })
})
