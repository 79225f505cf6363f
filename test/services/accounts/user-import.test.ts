import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { importUsers } from '../../../src/services/accounts/user-import.js'
import { readSourceUsers } from '../../../src/store/import-source.js'
import type { Store } from '../../../src/store/contract.js'
import { openStore } from '../../../src/store/open.js'
import { build, tempDir, tokenRequest } from '../../helper.js'
import { freshSchema, skipPostgres } from '../../support/postgres.js'
import { TUTORIAL_HASH, writeTutorialDb } from '../../support/tutorial-db.js'

async function opened(url: string): Promise<Store> {
  const store = await openStore(url)
  onTestFinished(() => store.close())
  return store
}

function importInto(name: string, targetUrl: () => Promise<string>): void {
  describe(`importing a FastAPI users.db into ${name}`, () => {
    it('copies every user with its hash as it is, and skips them all the second time', async () => {
      const dir = tempDir()
      const source = await readSourceUsers(`sqlite:///${writeTutorialDb(dir)}`)
      const target = await opened(await targetUrl())
      const progress: number[] = []
      expect(
        await importUsers(source, target, { onProgress: (done) => progress.push(done) }),
      ).toEqual({ imported: 3, skippedExisting: 0, conflicts: [] })
      expect(progress).toEqual([1, 2, 3])
      expect(await target.findUserByUsername('johndoe')).toMatchObject({
        email: 'johndoe@example.com',
        fullName: 'John Doe',
        hashedPassword: TUTORIAL_HASH,
        disabled: false,
        scopes: null,
        // The FastAPI app had no verification step: never asked, so counted as verified.
        emailVerified: null,
      })
      expect(await target.findUserByUsername('alice')).toMatchObject({ disabled: true })
      expect(await target.findUserByUsername('bob')).toMatchObject({ email: null, disabled: false })

      const again = await importUsers(source, target)
      expect(again).toEqual({ imported: 0, skippedExisting: 3, conflicts: [] })
      expect((await target.listUsers()).map((user) => user.username)).toEqual([
        'johndoe',
        'alice',
        'bob',
      ])
    })

    it('reports an email another user has, and a row without username, and imports the rest', async () => {
      const target = await opened(await targetUrl())
      await target.createUser({
        username: 'john',
        email: 'johndoe@example.com',
        hashedPassword: 'mine',
      })
      const source = [
        {
          username: 'johndoe',
          email: 'johndoe@example.com',
          fullName: null,
          hashedPassword: 'h',
          disabled: false,
          scopes: null,
        },
        {
          username: null,
          email: null,
          fullName: null,
          hashedPassword: 'h',
          disabled: false,
          scopes: null,
        },
        {
          username: 'eve',
          email: '',
          fullName: null,
          hashedPassword: null,
          disabled: false,
          scopes: ['me'],
        },
      ]
      expect(await importUsers(source, target)).toEqual({
        imported: 1,
        skippedExisting: 0,
        conflicts: [
          { username: 'johndoe', reason: 'the email johndoe@example.com belongs to another user' },
          { username: null, reason: 'the source row has no username' },
        ],
      })
      expect(await target.findUserByUsername('john')).toMatchObject({ hashedPassword: 'mine' })
      expect(await target.findUserByUsername('eve')).toMatchObject({
        email: null,
        hashedPassword: '',
        scopes: ['me'],
      })
    })

    it('imports addresses as awaiting verification when the operator says so', async () => {
      const source = await readSourceUsers(`sqlite:///${writeTutorialDb(tempDir())}`)
      const target = await opened(await targetUrl())
      await importUsers(source, target, { emailsUnverified: true })
      expect((await target.findUserByUsername('johndoe'))?.emailVerified).toBe(false)
      // No address, nothing to verify.
      expect((await target.findUserByUsername('bob'))?.emailVerified).toBeNull()
    })

    it('decides the same in a dry run, and writes nothing', async () => {
      const source = await readSourceUsers(`sqlite:///${writeTutorialDb(tempDir())}`)
      const target = await opened(await targetUrl())
      await target.createUser({ username: 'alice', hashedPassword: 'h' })
      expect(await importUsers([...source, source[0]!], target, { dryRun: true })).toEqual({
        imported: 2,
        skippedExisting: 2,
        conflicts: [],
      })
      expect((await target.listUsers()).map((user) => user.username)).toEqual(['alice'])
    })
  })
}

importInto('SQLite', async () => `sqlite:///${join(tempDir(), 'users.db')}`)
describe.skipIf(skipPostgres)('PostgreSQL target', () => {
  importInto('PostgreSQL', async () => (await freshSchema()).url)

  it('lets an imported tutorial user log in with its password', async () => {
    const source = await readSourceUsers(`sqlite:///${writeTutorialDb(tempDir())}`)
    const t = await build({ databaseUrl: (await freshSchema()).url })
    await importUsers(source, t.store)
    expect(
      (await t.app.inject(tokenRequest({ username: 'johndoe', password: 'secret' }))).statusCode,
    ).toBe(200)
  })
})
