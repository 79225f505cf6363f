// Debian's Chromium for the browser tests: where it is, how it is started on a closed network, the
// rule that CI fails without it while a developer's machine only skips (with a message), and the
// server-plus-browser fixture the browser tests share.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { parseConfig } from '../../src/config.js'
import { startServer, type RunningServer } from '../../src/server.js'
import type { NewAccount } from '../../src/services/accounts/accounts.js'
import { seedUser, TEST_SECRET } from '../helper.js'

const CHROMIUM = '/usr/bin/chromium'
const chromiumMissing = !existsSync(CHROMIUM)
const inCi = process.env.CI === 'true'

/** Skip the browser tests of `what`: only outside CI when the browser is missing. */
export function skipBrowserTests(what: string): boolean {
  const skip = chromiumMissing && !inCi
  if (skip)
    console.warn(
      `Skipping the ${what} browser test: ${CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium).`,
    )
  return skip
}

// Without the background-networking flags Chromium phones home, which a closed network refuses.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export async function launchChromium(): Promise<Browser> {
  if (chromiumMissing)
    throw new Error(
      `CI=true but ${CHROMIUM} is missing: install Debian's chromium before the tests`,
    )
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
}

/** Where screenshots go (git-ignored), created on first use. */
export function screenshotsDir(): string {
  const dir = fileURLToPath(new URL('../../test-results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  return dir
}

export interface BrowserFixture {
  server: RunningServer
  browser: Browser
  /** Closes the browser and the server and removes the database. */
  close(): Promise<void>
}

/**
 * One server (on a temporary SQLite file, with `users` added) and one Chromium for a test file; each
 * test opens its own browser context, so nothing carries over between tests.
 */
export async function startBrowserFixture(options: {
  users: NewAccount[]
  env?: Record<string, string>
}): Promise<BrowserFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'))
  const config = parseConfig({
    SECRET_KEY: TEST_SECRET,
    DATABASE_URL: `sqlite:///${join(dir, 'users.db')}`,
    PORT: '0',
    LOG_LEVEL: 'silent',
    LOGIN_MIN_DURATION_MS: '0',
    ...options.env,
  })
  for (const user of options.users) await seedUser(config.databaseUrl, user)
  const server = await startServer(config)
  const browser = await launchChromium()
  return {
    server,
    browser,
    async close() {
      await browser.close()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
