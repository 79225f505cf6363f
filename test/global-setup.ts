// Vitest global setup: tests that spawn bin/gatehouse.js or import dist/ must never run an old
// build, so before any test runs, dist/ is rebuilt when a source or build setting is newer than it.
// (`npm test` also builds in its pretest step; this covers a bare `npx vitest`.)
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'

const ROOT = join(import.meta.dirname, '..')
/** The kit's package first: the server's src/kit/ re-exports its build. */
const PACKAGES = [join(ROOT, 'packages', 'kit'), ROOT]
const BUILD_SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json']

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
}

/** Why a package's dist/ is out of date, or undefined when every source has an output at least as new as all inputs. */
export function whyStale(pkg = ROOT): string | undefined {
  const src = join(pkg, 'src')
  const dist = join(pkg, 'dist')
  const sources = filesUnder(src).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  const inputs = [...sources, ...BUILD_SETTINGS.map((name) => join(pkg, name))]
  const newestInput = Math.max(...inputs.map((file) => statSync(file).mtimeMs))
  for (const source of sources) {
    const output = join(dist, relative(src, source)).replace(/\.ts$/, '.js')
    if (!existsSync(output)) return `${relative(ROOT, output)} is missing`
    // tsc rewrites every output on each build, so every output must be newer than the newest input.
    if (statSync(output).mtimeMs < newestInput)
      return `${relative(ROOT, output)} is older than the newest source or build setting`
  }
  return undefined
}

export default function setup(): void {
  for (const pkg of PACKAGES) build(pkg)
}

function build(pkg: string): void {
  const reason = whyStale(pkg)
  if (!reason) return
  console.log(`dist/ is stale (${reason}): building it with tsc -p tsconfig.build.json`)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: pkg,
      stdio: 'inherit',
    })
  } catch {
    // tsc still emits on type errors (shown above; `npm run typecheck` fails on them): the tests may run.
    console.warn('tsc reported errors while building dist/')
  }
  const still = whyStale(pkg)
  if (still) throw new Error(`dist/ is still stale after building: ${still}`)
}
