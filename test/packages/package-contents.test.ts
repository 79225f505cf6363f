// What `npm publish` would upload, as `npm pack --dry-run --json` lists it: each package carries what an
// installation needs and none of the repository's own material (sources, tests, fixtures, `.env`,
// databases, test results). And the CHANGELOG that ships with them follows Keep a Changelog 1.1.0
// with the versions their package.json files state.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { KIT_DIR, ROOT } from '../support/packed-packages.js'

const run = promisify(execFile)

/** The files `npm pack` would put in the tarball of the package in `dir`. */
async function packedFiles(dir: string): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], {
    cwd: dir,
  })
  const [packed] = JSON.parse(stdout) as { files: { path: string }[] }[]
  if (!packed) throw new Error(`npm pack listed nothing in ${dir}`)
  return packed.files.map((file) => file.path)
}

/** Material of the repository that no installation needs, and some that must never leave it. */
const NEVER_PACKED = [
  /^(src|test|tests|bench|examples|coverage|test-results|packages|\.ci|\.github)\//,
  /(^|\/)(fixtures?|__tests__)\//,
  /\.test\.[cm]?[jt]s$/,
  /(^|\/)\.env(\.(?!example$)[^/]*)?$/,
  /\.(db|db-wal|db-shm|sqlite|sqlite3)$/,
  /(^|\/)(tsconfig[^/]*\.json|vitest\.config\.ts|eslint\.config\.js|\.prettierrc\.json)$/,
]

const version = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version

describe('npm pack', () => {
  it('packs gatehouse-auth with its build, bin, public pages and docs, and nothing of the repository', async () => {
    const files = await packedFiles(ROOT)
    for (const needed of [
      'package.json',
      'dist/index.js',
      'dist/kit/express.js',
      'bin/gatehouse.js',
      'public/index.html',
      'README.md',
      'CHANGELOG.md',
      'docs/resource-servers.md',
      '.env.example',
    ])
      expect(files).toContain(needed)
    for (const pattern of NEVER_PACKED)
      expect(
        files.filter((file) => pattern.test(file)),
        String(pattern),
      ).toEqual([])
  })

  it('packs gatehouse-auth-kit as its build, README and manifest only', async () => {
    const files = await packedFiles(KIT_DIR)
    for (const needed of ['package.json', 'README.md', 'dist/verify.js', 'dist/verify.d.ts'])
      expect(files).toContain(needed)
    expect(
      files.filter(
        (file) => !/^(package\.json|README\.md|dist\/[\w-]+\.(js|d\.ts|js\.map))$/.test(file),
      ),
    ).toEqual([])
  })
})

describe('CHANGELOG.md', () => {
  const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')
  const lines = changelog.split('\n')
  const releases = lines.filter((line) => line.startsWith('## '))

  it('opens with Unreleased, then the version package.json states, each release dated', () => {
    expect(releases[0]).toBe('## [Unreleased]')
    const released = releases.slice(1)
    expect(released.length).toBeGreaterThan(0)
    for (const heading of released)
      expect(heading).toMatch(/^## \[\d+\.\d+\.\d+(-[\w.]+)?\] - \d{4}-\d{2}-\d{2}$/)
    // The package is at the newest release or working towards the next one: never behind or ahead of
    // what the changelog names.
    expect(released[0]).toContain(`[${version(ROOT)}]`)
    expect(version(KIT_DIR)).toBe(version(ROOT))
  })

  it('sorts changes under the six kinds of Keep a Changelog only', () => {
    const kinds = lines.filter((line) => line.startsWith('### ')).map((line) => line.slice(4))
    expect(kinds.length).toBeGreaterThan(0)
    for (const kind of kinds)
      expect(['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security']).toContain(kind)
  })

  it('ends with a link reference for each release heading', () => {
    const linked = releases.map((heading) => /^## \[([^\]]+)\]/.exec(heading)?.[1])
    const references = lines
      .filter((line) => /^\[[^\]]+\]: https:\/\/\S+$/.test(line))
      .map((line) => line.slice(1, line.indexOf(']')))
    expect(references).toEqual(linked)
    // At the bottom: nothing but the references follows the first of them.
    const first = lines.findIndex((line) => /^\[[^\]]+\]: /.test(line))
    expect(lines.slice(first).filter((line) => line !== '' && !/^\[[^\]]+\]: /.test(line))).toEqual(
      [],
    )
  })
})
