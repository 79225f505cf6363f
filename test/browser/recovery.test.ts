// Account recovery on the login page in headless Chromium, against a real server and a real SMTP
// server: ask for a reset link, read the mail, open the link, set a new password, sign in with it
// (the old one fails); and the verification link of a new address.
import type { ParsedMail } from 'mailparser'
import { type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { RunningServer } from '../../src/server.js'
import { skipBrowserTests, startBrowserFixture, type BrowserFixture } from '../support/browser.js'
import { freePort } from '../support/server-process.js'
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js'

const skip = skipBrowserTests('account recovery pages')
const ALICE = { username: 'alice', password: 'alice-password', email: 'alice@example.com' }

function linkIn(mail: ParsedMail, path: string): string {
  const link = new RegExp(`https?://\\S+/${path}\\?token=[A-Za-z0-9_-]{43}`).exec(mail.text ?? '')
  if (!link) throw new Error(`no ${path} link in the mail`)
  return link[0]
}

describe.skipIf(skip)('account recovery on the login page in headless Chromium', () => {
  let fixture: BrowserFixture | undefined
  let server: RunningServer | undefined
  let browser: Browser | undefined
  let smtp: TestSmtpServer

  beforeAll(async () => {
    smtp = await startSmtpServer({ shared: true })
    // The links in the mail are built from ISSUER: it must be the address the browser opens.
    const port = await freePort()
    fixture = await startBrowserFixture({
      users: [ALICE],
      env: { PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, SMTP_URL: smtp.url },
    })
    ;({ server, browser } = fixture)
  })

  afterAll(async () => {
    await fixture?.close()
    await smtp?.close()
  })

  async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
    const context = await browser!.newContext()
    onTestFinished(() => context.close())
    const page = await context.newPage()
    page.setDefaultTimeout(10_000)
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(message.text())
    })
    await page.goto(url)
    return { page, problems }
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill(username)
    await page.getByLabel('Password', { exact: true }).fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }

  it('verifies the address with the link mailed when the user was created', async () => {
    const mail = await smtp.nth(1)
    expect(mail.subject).toBe('Confirm your e-mail address')
    // seedUser wrote it under its own default ISSUER: the same path and token on this server.
    const link = new URL(linkIn(mail, 'verify-email'))
    const { page, problems } = await openPage(`${server!.url}${link.pathname}${link.search}`)
    await page.getByText('Your e-mail address is verified.').waitFor()
    expect(page.url()).not.toContain('token=')
    expect(problems).toEqual([])
  })

  it('resets a forgotten password from the link in the mail; the old password then fails', async () => {
    const { page, problems } = await openPage(`${server!.url}/`)
    await page.getByRole('link', { name: 'Forgot your password?' }).click()
    await page.getByLabel('E-mail address or username').fill(ALICE.email)
    await page.getByRole('button', { name: 'Send the link' }).click()
    await page.getByText('a reset link is on its way').waitFor()

    const mail = await smtp.nth(2)
    expect(mail.subject).toBe('Reset your password')
    const link = linkIn(mail, 'reset-password')
    expect(link.startsWith(`${server!.url}/reset-password?token=`)).toBe(true)

    await page.goto(link)
    expect(page.url()).toBe(`${server!.url}/reset-password`)
    await page.getByLabel('New password', { exact: true }).fill('alice')
    await page.getByRole('button', { name: 'Set the password' }).click()
    await page.getByText('The password must be at least 8 characters').waitFor()
    await page.getByLabel('New password', { exact: true }).fill('a brand new passphrase')
    await page.getByRole('button', { name: 'Set the password' }).click()
    await page.getByText('Your new password is set: sign in with it.').waitFor()

    await signIn(page, ALICE.username, ALICE.password)
    await page.getByText('Incorrect username or password').waitFor()
    await signIn(page, ALICE.username, 'a brand new passphrase')
    await page.getByRole('heading', { name: 'Signed in' }).waitFor()

    // The link was for one use.
    await page.goto(link)
    await page.getByLabel('New password', { exact: true }).fill('yet another passphrase')
    await page.getByRole('button', { name: 'Set the password' }).click()
    await page.getByText('This reset link is invalid or has expired').waitFor()
    expect(problems).toEqual([])
  })
})
