// Debian's Chromium for the browser tests: where it is, how it is started on a closed network, and
// the rule that CI fails without it while a developer's machine only skips (with a message).
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'

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
