// The layer rule of eslint.config.js, run through ESLint's own API on made-up files: an import that
// goes up (or sideways out of the kit, or to a library another room owns) is an error, and the
// imports the rule allows stay clean. Type-aware rules are switched off: only the import graph counts.
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import tseslint from 'typescript-eslint'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const eslint = new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked })

/** The layer-rule messages for `code` as if it were the file at `filePath` (from the root). */
async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  if (!result) throw new Error(`ESLint returned no result for ${filePath}`)
  const fatal = result.messages.filter((message) => message.fatal)
  if (fatal.length) throw new Error(`${filePath}: ${fatal.map((m) => m.message).join('; ')}`)
  return result.messages
    .filter((message) => message.ruleId?.startsWith('boundaries/'))
    .map((message) => message.message)
}

describe('the layer rule', () => {
  it.each([
    [
      'services/ importing http/',
      'src/services/sessions/x.ts',
      `import { x } from '../../http/auth.js'`,
    ],
    [
      'services/ importing grants/',
      'src/services/login/x.ts',
      `import { x } from '../../grants/index.js'`,
    ],
    ['grants/ importing http/', 'src/grants/x.ts', `import type { X } from '../http/schemas.js'`],
    [
      'http/ importing the wiring',
      'src/http/routes/x.ts',
      `import type { X } from '../../compose.js'`,
    ],
    [
      'services/ importing config.ts',
      'src/services/mail/x.ts',
      `import type { X } from '../../config.js'`,
    ],
    [
      'security/ importing a service',
      'src/security/x.ts',
      `import { x } from '../services/scopes/scopes.js'`,
    ],
    ['security/ importing config.ts', 'src/security/x.ts', `import type { X } from '../config.js'`],
    [
      'services/ importing a driver',
      'src/services/accounts/x.ts',
      `import { x } from '../../store/sqlite.js'`,
    ],
    [
      'services/ importing openStore',
      'src/services/accounts/x.ts',
      `import { x } from '../../store/open.js'`,
    ],
    [
      'the store contract importing a driver',
      'src/store/contract.ts',
      `export { x } from './postgres.js'`,
    ],
    [
      'a driver importing a service',
      'src/store/sqlite/x.ts',
      `import type { X } from '../../services/shared/actor.js'`,
    ],
    [
      'the kit importing a service',
      'packages/kit/src/x.ts',
      `import type { X } from '../../../src/services/sessions/sessions.js'`,
    ],
    [
      'the kit importing errors.ts',
      'packages/kit/src/x.ts',
      `import { x } from '../../../src/errors.js'`,
    ],
    [
      'a lazy upward import',
      'src/services/mfa/x.ts',
      `export const x = () => import('../../http/auth.js')`,
    ],
    [
      "a service importing the kit's package",
      'src/services/sessions/x.ts',
      `import { x } from 'gatehouse-auth-kit/verify'`,
    ],
  ])('refuses %s', async (_, filePath, code) => {
    const errors = await layerErrors(filePath, code)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/may not import .* see the layer rule/)
  })

  it.each([
    [
      'better-sqlite3 outside a driver',
      'src/services/accounts/x.ts',
      `import Database from 'better-sqlite3'`,
      /store drivers/,
    ],
    [
      'pg in the store contract',
      'src/store/contract.ts',
      `import type { Pool } from 'pg'`,
      /store drivers/,
    ],
    [
      'a migration using pg as a value',
      'src/store/migrations/x.ts',
      `import pg from 'pg'`,
      /store drivers/,
    ],
    [
      'ioredis in a service',
      'src/services/throttle/x.ts',
      `import { Redis } from 'ioredis'`,
      /store drivers/,
    ],
    [
      'fast-jwt outside tokens.ts',
      'src/services/sessions/x.ts',
      `import { createSigner } from 'fast-jwt'`,
      /JWT/,
    ],
    [
      'jose outside tokens.ts',
      'src/security/signing-keys.ts',
      `import { importJWK } from 'jose'`,
      /JWT/,
    ],
    [
      'argon2 outside passwords.ts',
      'src/security/x.ts',
      `import { hash } from '@node-rs/argon2'`,
      /hashing/,
    ],
    [
      'nodemailer outside the mail service',
      'src/services/recovery/x.ts',
      `import nodemailer from 'nodemailer'`,
      /mail/,
    ],
    [
      'Fastify in a service',
      'src/services/sessions/x.ts',
      `import type { FastifyRequest } from 'fastify'`,
      /Fastify/,
    ],
    [
      'a library of the server in the kit',
      'packages/kit/src/x.ts',
      `import { x } from 'fast-jwt'`,
      /may not import "fast-jwt"/,
    ],
  ])('refuses %s', async (_, filePath, code, reason) => {
    const errors = await layerErrors(filePath, code)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(reason)
  })

  it('refuses a file that is in no room', async () => {
    const errors = await layerErrors('src/helpers/x.ts', `export const x = 1`)
    expect(errors).toEqual([expect.stringMatching(/does not match any file pattern/)])
  })

  it.each([
    [
      'a service importing the contract, security, errors and another capability',
      'src/services/sessions/x.ts',
      `import type { Store } from '../../store/contract.js'
       import { x } from '../../security/tokens.js'
       import { y } from '../../errors.js'
       import { z } from '../scopes/scopes.js'
       import { randomBytes } from 'node:crypto'
       import type { Logger } from 'pino'`,
    ],
    [
      'http importing grants, services and the logger',
      'src/http/routes/x.ts',
      `import { x } from '../../grants/index.js'
       import { y } from '../../services/sessions/sessions.js'
       import { z } from '../../logger.js'
       import type { FastifyInstance } from 'fastify'`,
    ],
    [
      'a driver folder importing its client, the contract and the migrations',
      'src/store/sqlite/x.ts',
      `import Database from 'better-sqlite3'
       import type { Store } from '../contract.js'
       import { x } from '../migrations/index.js'`,
    ],
    [
      'a migration naming a client type',
      'src/store/migrations/x.ts',
      `import type { ClientBase } from 'pg'`,
    ],
    [
      'tokens.ts importing fast-jwt',
      'src/security/tokens.ts',
      `import { createSigner } from 'fast-jwt'`,
    ],
    [
      'passwords.ts importing bcrypt',
      'src/security/passwords.ts',
      `import { hash } from '@node-rs/bcrypt'`,
    ],
    [
      'the mail service importing nodemailer',
      'src/services/mail/x.ts',
      `import nodemailer from 'nodemailer'`,
    ],
    [
      'the kit importing jose and a framework type',
      'packages/kit/src/x.ts',
      `import { jwtVerify } from 'jose'
       import type { Request } from 'express'
       import { y } from './verify.js'`,
    ],
    [
      'compose.ts wiring services, the grants and the Redis throttle',
      'src/compose.ts',
      `import { x } from './services/login/login.js'
       import { y } from './grants/index.js'
       import type { Z } from './store/redis/throttle.js'`,
    ],
    [
      'the CLI on top of everything but the kit',
      'src/cli/x.ts',
      `import { x } from '../compose.js'
       import { y } from '../store/open.js'
       import { z } from '../store/import-source.js'`,
    ],
    [
      "gatehouse-auth's subpaths re-exporting the kit's package",
      'src/kit/express.ts',
      `export * from 'gatehouse-auth-kit/express'`,
    ],
  ])('allows %s', async (_, filePath, code) => {
    await expect(layerErrors(filePath, code)).resolves.toEqual([])
  })
})
