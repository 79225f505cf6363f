// Both packages of this repository as npm publishes them: `npm pack` of gatehouse-auth (the root) and
// of gatehouse-auth-kit (packages/kit/) into a temporary folder, from the dist/ folders already built
// (tests never rebuild them: packing with scripts would rebuild dist/ under other tests).
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const KIT_DIR = join(ROOT, 'packages', 'kit')

export interface PackedPackage {
  name: string
  tarball: string
  /** The files in the tarball, relative to the package (as `npm pack --json` lists them). */
  files: string[]
}

export interface PackedPackages {
  server: PackedPackage
  kit: PackedPackage
  /** Removes the tarballs. */
  remove(): void
}

async function pack(dir: string, destination: string): Promise<PackedPackage> {
  if (!existsSync(join(dir, 'dist')))
    throw new Error(`${dir}/dist is missing: run \`npm run build\` first (npm test does)`)
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', destination],
    { cwd: dir },
  )
  const [packed] = JSON.parse(stdout) as {
    name: string
    filename: string
    files: { path: string }[]
  }[]
  if (!packed) throw new Error(`npm pack packed nothing in ${dir}`)
  return {
    name: packed.name,
    tarball: join(destination, packed.filename),
    files: packed.files.map((file) => file.path),
  }
}

export async function packPackages(): Promise<PackedPackages> {
  const destination = mkdtempSync(join(tmpdir(), 'gatehouse-pack-'))
  const [server, kit] = await Promise.all([pack(ROOT, destination), pack(KIT_DIR, destination)])
  return {
    server,
    kit,
    remove: () => rmSync(destination, { recursive: true, force: true }),
  }
}
