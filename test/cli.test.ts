import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { main } from '../src/cli.js'
import { LATEST_SCHEMA_VERSION } from '../src/store/migrations/index.js'
import { openSqliteStore } from '../src/store/sqlite/index.js'
import { captureLogs, tempDir } from './helper.js'
import { freshSchema, skipPostgres } from './support/postgres.js'
import { TUTORIAL_HASH, writeTutorialDb } from './support/tutorial-db.js'
import { watchedOutput } from './support/watched-output.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function gatehouse(
  dir: string,
  args: string[],
  stdin: Readable & { isTTY?: boolean } = Readable.from([]),
  extraEnv: Record<string, string> = {},
): Promise<Run> {
  const out = captureLogs()
  const err = captureLogs()
  const env = {
    DATABASE_URL: 'sqlite:///users.db',
    SECRET_KEY: 'cli-test-secret-key-0123456789abcdef',
    ...extraEnv,
  }
  const code = await main(['node', 'gatehouse', ...args], {
    stdin,
    stdout: out.stream,
    stderr: err.stream,
    env,
    cwd: dir,
  })
  return { code, stdout: out.text(), stderr: err.text() }
}

const stdinOf = (text: string) => Readable.from([Buffer.from(text)])

async function storedUser(dir: string, username: string) {
  const store = openSqliteStore(join(dir, 'users.db'))
  try {
    return await store.findUserByUsername(username)
  } finally {
    await store.close()
  }
}

/** The CLI run with a terminal for standard input, whose prompts a test answers as a person would. */
function onTerminal(args: string[]) {
  const terminal = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => terminal })
  const out = captureLogs()
  const err = watchedOutput()
  const running = main(['node', 'gatehouse', ...args], {
    stdin: terminal,
    stdout: out.stream,
    stderr: err.stream,
    env: { DATABASE_URL: 'sqlite:///users.db', SECRET_KEY: 'cli-test-secret-key-0123456789abcdef' },
    cwd: tempDir(),
  })
  return { terminal, out, err, running }
}

describe('gatehouse users', () => {
  it('adds a user from --password-stdin, hashing with argon2id, and lists it', async () => {
    const dir = tempDir()
    const added = await gatehouse(
      dir,
      [
        'users',
        'add',
        'alice',
        '--email',
        'alice@example.com',
        '--full-name',
        'Alice L',
        '--password-stdin',
      ],
      stdinOf('pw with spaces\n'),
    )
    expect(added).toMatchObject({ code: 0, stderr: '' })
    expect(added.stdout).toContain("Created user 'alice'")
    const user = await storedUser(dir, 'alice')
    expect(user).toMatchObject({ email: 'alice@example.com', fullName: 'Alice L', disabled: false })
    expect(user?.hashedPassword).toMatch(/^\$argon2id\$/)

    const listed = await gatehouse(dir, ['users', 'list'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/alice\s+alice@example\.com\s+Alice L\s+active/)
    expect(listed.stdout).not.toContain('argon2')
    const json = JSON.parse((await gatehouse(dir, ['users', 'list', '--json'])).stdout) as unknown
    expect(json).toEqual([
      {
        username: 'alice',
        email: 'alice@example.com',
        full_name: 'Alice L',
        disabled: false,
        email_verified: false,
      },
    ])
  })

  it('prompts twice without echo when no --password-stdin is given on a terminal', async () => {
    const { terminal, out, err, running } = onTerminal(['users', 'add', 'bob'])
    // Each answer is typed once its prompt is on the screen, as a person would.
    await err.waitFor('Password: ')
    terminal.write('typed-secret\r')
    await err.waitFor('Repeat password: ')
    terminal.write('typed-secret\r')
    expect(await running).toBe(0)
    expect(out.text()).toContain("Created user 'bob'")
    expect(err.text()).not.toContain('typed-secret')
    expect(out.text()).not.toContain('typed-secret')
  })

  it('asks again when the two entries differ, and ends each hidden prompt with a newline', async () => {
    const { terminal, out, err, running } = onTerminal(['users', 'add', 'bob'])
    await err.waitFor('Password: ')
    terminal.write('first-try-secret\r')
    await err.waitFor('Repeat password: ')
    terminal.write('second-try-secret\r')
    await err.waitFor('Password: ')
    terminal.write('typed-secret\r')
    await err.waitFor('Repeat password: ')
    terminal.write('typed-secret\r')
    expect(await running).toBe(0)
    expect(err.text()).toMatch(/^Password: \nRepeat password: \nThe passwords do not match/)
    expect(out.text()).toContain("Created user 'bob'")
  })

  it('refuses to prompt without a terminal', async () => {
    const result = await gatehouse(tempDir(), ['users', 'add', 'bob'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('--password-stdin')
  })

  it('marks the e-mail address of a user verified by hand', async () => {
    const dir = tempDir()
    await gatehouse(
      dir,
      ['users', 'add', 'alice', '--email', 'alice@example.com', '--password-stdin'],
      stdinOf('first-password'),
    )
    expect((await storedUser(dir, 'alice'))?.emailVerified).toBe(false)
    const verified = await gatehouse(dir, ['users', 'verify-email', 'alice'])
    expect(verified).toMatchObject({ code: 0, stderr: '' })
    expect(verified.stdout).toContain("The e-mail address of 'alice' is verified.")
    expect((await storedUser(dir, 'alice'))?.emailVerified).toBe(true)
    await gatehouse(dir, ['users', 'add', 'bob', '--password-stdin'], stdinOf('bob-password'))
    const noAddress = await gatehouse(dir, ['users', 'verify-email', 'bob'])
    expect(noAddress.code).not.toBe(0)
    expect(noAddress.stderr).toContain('bob has no e-mail address to verify')
  })

  it('disables, enables, changes the password of and removes users', async () => {
    const dir = tempDir()
    await gatehouse(dir, ['users', 'add', 'alice', '--password-stdin'], stdinOf('first-password'))
    expect((await gatehouse(dir, ['users', 'disable', 'alice'])).code).toBe(0)
    expect((await storedUser(dir, 'alice'))?.disabled).toBe(true)
    expect((await gatehouse(dir, ['users', 'enable', 'alice'])).code).toBe(0)
    expect((await storedUser(dir, 'alice'))?.disabled).toBe(false)
    const before = (await storedUser(dir, 'alice'))?.hashedPassword
    expect(
      (
        await gatehouse(
          dir,
          ['users', 'passwd', 'alice', '--password-stdin'],
          stdinOf('second-password\n'),
        )
      ).code,
    ).toBe(0)
    expect((await storedUser(dir, 'alice'))?.hashedPassword).not.toBe(before)
    expect((await gatehouse(dir, ['users', 'remove', 'alice'])).code).toBe(0)
    expect(await storedUser(dir, 'alice')).toBeUndefined()
  })

  it.each([
    [['users', 'add', 'alice', '--password-stdin'], '', /at least 8 characters/],
    [['users', 'add', 'alice', '--password-stdin'], 'short', /at least 8 characters/],
    [['users', 'add', 'alice', '--password-stdin'], 'Password123', /too common/],
    [['users', 'add', 'alice', '--password-stdin'], 'Alice', /at least 8/],
    [['users', 'add', 'alice-smith', '--password-stdin'], 'ALICE-SMITH', /not be the username/],
    [['users', 'add', 'alice', '--password-stdin'], 'x'.repeat(1025), /at most 1024/],
    [['users', 'add', 'has space', '--password-stdin'], 'a fine passphrase', /spaces/],
    [
      ['users', 'add', 'x', '--email', 'not-an-email', '--password-stdin'],
      'a fine passphrase',
      /not an email/,
    ],
    [['users', 'disable', 'ghost'], '', /No user named 'ghost'/],
    [['users', 'remove', 'ghost'], '', /No user named 'ghost'/],
    [
      ['users', 'passwd', 'ghost', '--password-stdin'],
      'a fine passphrase',
      /No user named 'ghost'/,
    ],
  ])('fails with a clear message and non-zero exit for %j', async (args, stdin, message) => {
    const result = await gatehouse(tempDir(), args, stdinOf(stdin))
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('refuses a duplicate username and a duplicate email', async () => {
    const dir = tempDir()
    await gatehouse(
      dir,
      ['users', 'add', 'alice', '--email', 'a@example.com', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    const sameName = await gatehouse(
      dir,
      ['users', 'add', 'alice', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    expect(sameName.code).toBe(1)
    expect(sameName.stderr).toContain('username already exists')
    const sameEmail = await gatehouse(
      dir,
      ['users', 'add', 'bob', '--email', 'a@example.com', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    expect(sameEmail.code).toBe(1)
    expect(sameEmail.stderr).toContain('email already exists')
  })

  it('says that usernames are case-insensitive when one differs from a taken one only in case', async () => {
    const dir = tempDir()
    await gatehouse(
      dir,
      ['users', 'add', 'Alice', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    const result = await gatehouse(
      dir,
      ['users', 'add', 'alice', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/case-insensitive/)
  })

  it('refuses control characters in names, and never prints stored ones raw', async () => {
    const dir = tempDir()
    const refused = await gatehouse(
      dir,
      ['users', 'add', 'eve', '--full-name', 'Eve\u001b[2J', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/control characters/)
    // A row another program wrote, with an escape sequence in it.
    const store = openSqliteStore(join(dir, 'users.db'))
    await store.createUser({
      username: 'mallory',
      fullName: 'M\u001b]0;owned\u0007',
      hashedPassword: '',
    })
    await store.close()
    const listed = await gatehouse(dir, ['users', 'list'])
    expect(listed.stdout).not.toContain('\u001b')
    expect(listed.stdout).not.toContain('\u0007')
    expect(listed.stdout).toContain('M\\u{1b}]0;owned\\u{7}')
  })

  it('prints help and fails on unknown commands or options', async () => {
    const help = await gatehouse(tempDir(), ['users', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('add [options] <username>')
    const unknown = await gatehouse(tempDir(), ['users', 'frobnicate'])
    expect(unknown.code).not.toBe(0)
    const badOption = await gatehouse(tempDir(), ['users', 'add', 'x', '--bogus'])
    expect(badOption.code).not.toBe(0)
    expect(badOption.stderr).toContain('--bogus')
  })

  it('reports a broken configuration without a stack trace', async () => {
    const out = captureLogs()
    const err = captureLogs()
    const code = await main(['node', 'gatehouse', 'users', 'list'], {
      stdin: Readable.from([]),
      stdout: out.stream,
      stderr: err.stream,
      cwd: tempDir(),
      env: { DATABASE_URL: 'mysql://u:p@h/db' },
    })
    expect(code).toBe(1)
    expect(err.text()).toMatch(/^gatehouse: DATABASE_URL: the 'mysql' database is not supported/)
  })
})

describe('gatehouse users scopes', () => {
  it('shows, grants and resets the scopes of a user', async () => {
    const dir = tempDir()
    await gatehouse(
      dir,
      ['users', 'add', 'alice', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    expect((await gatehouse(dir, ['users', 'scopes', 'alice'])).stdout).toBe('alice: me items\n')
    const granted = await gatehouse(dir, ['users', 'scopes', 'alice', 'items'])
    expect(granted).toMatchObject({ code: 0, stdout: 'alice: items\n' })
    expect((await storedUser(dir, 'alice'))?.scopes).toEqual(['items'])
    expect((await gatehouse(dir, ['users', 'scopes', 'alice', '--default'])).stdout).toBe(
      'alice: me items\n',
    )
    expect((await storedUser(dir, 'alice'))?.scopes).toBeNull()
  })

  it('refuses unknown scopes and unknown users', async () => {
    const dir = tempDir()
    await gatehouse(
      dir,
      ['users', 'add', 'alice', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    const unknown = await gatehouse(dir, ['users', 'scopes', 'alice', 'me', 'root'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("Unknown scope 'root'")
    expect((await gatehouse(dir, ['users', 'scopes', 'ghost', 'me'])).stderr).toContain(
      "No user named 'ghost'",
    )
  })
})

describe('gatehouse users mfa and mfa-reset', () => {
  it("shows a user's second factors and resets them, audited under the CLI's actor", async () => {
    const dir = tempDir()
    await gatehouse(
      dir,
      ['users', 'add', 'alice', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    expect((await gatehouse(dir, ['users', 'mfa', 'alice'])).stdout).toBe('alice: TOTP none\n')
    const store = openSqliteStore(join(dir, 'users.db'))
    try {
      const user = (await store.findUserByUsername('alice'))!
      await store.startTotp(user.id, 'sealed', 1)
      await store.confirmTotp(user.id, 'sealed', 1, ['a', 'b', 'c'], 2)
    } finally {
      await store.close()
    }
    expect((await gatehouse(dir, ['users', 'mfa', 'alice'])).stdout).toBe(
      'alice: TOTP confirmed, 3 recovery codes left\n',
    )
    const reset = await gatehouse(dir, ['users', 'mfa-reset', 'alice'])
    expect(reset).toMatchObject({ code: 0 })
    expect(reset.stdout).toContain("Second factors of 'alice' removed")
    expect((await gatehouse(dir, ['users', 'mfa', 'alice'])).stdout).toBe('alice: TOTP none\n')
    const audit = openSqliteStore(join(dir, 'users.db'))
    const events = await audit.listAudit({ limit: 10 }).finally(() => audit.close())
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'mfa',
        outcome: 'reset',
        username: 'alice',
        actor: `cli:${userInfo().username}`,
      }),
    )
    expect((await gatehouse(dir, ['users', 'mfa-reset', 'ghost'])).stderr).toContain(
      "No user named 'ghost'",
    )
  })
})

describe('gatehouse users add --admin', () => {
  it('creates the first admin, with the default scopes plus admin', async () => {
    const dir = tempDir()
    const added = await gatehouse(
      dir,
      ['users', 'add', 'root', '--admin', '--password-stdin'],
      stdinOf('root-passphrase'),
    )
    expect(added.stdout).toContain('with the admin scope')
    expect((await storedUser(dir, 'root'))?.scopes).toEqual(['me', 'items', 'admin'])
  })
})

describe('gatehouse audit tail', () => {
  it('prints the newest events, oldest first, without secrets', async () => {
    const dir = tempDir()
    const store = openSqliteStore(join(dir, 'users.db'))
    for (let i = 0; i < 3; i++) {
      await store.appendAudit({
        at: Date.UTC(2026, 0, 1, 0, 0, i),
        type: 'login',
        outcome: 'success',
        username: `user${i}`,
        ip: '10.0.0.1',
        userAgent: null,
        detail: null,
      })
    }
    await store.close()
    const result = await gatehouse(dir, ['audit', 'tail', '-n', '2'])
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toEqual([
      '2026-01-01T00:00:01.000Z  login  success  "user1"  10.0.0.1',
      '2026-01-01T00:00:02.000Z  login  success  "user2"  10.0.0.1',
    ])
    expect((await gatehouse(dir, ['audit', 'tail', '-n', 'zero'])).code).toBe(1)
  })
})

describe('changes made with the CLI', () => {
  it('are audited, naming cli and the operating-system user', async () => {
    const dir = tempDir()
    const steps: Array<[string[], string]> = [
      [['users', 'add', 'alice', '--password-stdin'], 'a fine passphrase'],
      [['users', 'disable', 'alice'], ''],
      [['users', 'enable', 'alice'], ''],
      [['users', 'passwd', 'alice', '--password-stdin'], 'another passphrase'],
      [['users', 'scopes', 'alice', 'me'], ''],
      [['users', 'remove', 'alice'], ''],
    ]
    for (const [args, stdin] of steps)
      expect((await gatehouse(dir, args, stdinOf(stdin))).code).toBe(0)
    const store = openSqliteStore(join(dir, 'users.db'))
    const events = (await store.listAudit({ limit: 20 })).reverse()
    await store.close()
    const actor = `cli:${userInfo().username}`
    expect(events.map((event) => [event.type, event.outcome, event.actor, event.detail])).toEqual(
      [
        'create_user',
        'disable_user',
        'enable_user',
        'reset_password',
        'set_scopes',
        'delete_user',
      ].map((action) => ['admin', action, actor, 'user alice']),
    )
  })
})

describe('gatehouse migrate', () => {
  it('brings the schema up to date and prints its version, also when it already is', async () => {
    const dir = tempDir()
    for (let run = 0; run < 2; run++) {
      expect(await gatehouse(dir, ['migrate'])).toEqual({
        code: 0,
        stdout: `The database schema is at version ${LATEST_SCHEMA_VERSION}.\n`,
        stderr: '',
      })
    }
  })

  it.skipIf(skipPostgres)('migrates a PostgreSQL database', async () => {
    const { url } = await freshSchema()
    const result = await gatehouse(tempDir(), ['migrate'], undefined, { DATABASE_URL: url })
    expect(result).toMatchObject({
      code: 0,
      stdout: `The database schema is at version ${LATEST_SCHEMA_VERSION}.\n`,
    })
  })

  it('names addresses that differ only in case, merges nobody, and adds the index once they are apart', async () => {
    const dir = tempDir()
    const file = writeTutorialDb(dir, 'users.db')
    const db = new Database(file)
    db.prepare(
      "INSERT INTO users (username, email, hashed_password, disabled) VALUES ('john2', 'JohnDoe@Example.com', 'x', 0)",
    ).run()
    db.close()
    const first = await gatehouse(dir, ['migrate'])
    expect(first.code).toBe(1)
    expect(first.stdout).toContain(`The database schema is at version ${LATEST_SCHEMA_VERSION}.\n`)
    expect(first.stdout).toContain('  johndoe@example.com\n  JohnDoe@Example.com\n')
    expect((await storedUser(dir, 'john2'))?.email).toBe('JohnDoe@Example.com')
    expect((await storedUser(dir, 'johndoe'))?.email).toBe('johndoe@example.com')

    const fix = new Database(file)
    fix.prepare("UPDATE users SET email = 'john2@example.com' WHERE username = 'john2'").run()
    fix.close()
    expect(await gatehouse(dir, ['migrate'])).toMatchObject({ code: 0 })
    const check = new Database(file)
    expect(() =>
      check.prepare("UPDATE users SET email = 'JOHN2@example.com' WHERE username = 'alice'").run(),
    ).toThrow(/UNIQUE/)
    check.close()
  })

  it('says the database is unavailable, without the password', async () => {
    const result = await gatehouse(tempDir(), ['migrate'], undefined, {
      DATABASE_URL: 'postgresql://app:hunter2@127.0.0.1:1/auth',
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^gatehouse: The database is unavailable \(.*ECONNREFUSED.*\)\n$/)
    expect(result.stderr).not.toContain('hunter2')
  })
})

describe('gatehouse users import', () => {
  it('imports the users of a FastAPI users.db, then skips them, with a summary line', async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    const first = await gatehouse(dir, ['users', 'import', '--from', 'sqlite:///fastapi.db'])
    expect(first).toEqual({
      code: 0,
      stdout: 'imported 3, skipped 0 existing, 0 conflicts\n',
      stderr: '',
    })
    expect((await storedUser(dir, 'johndoe'))?.hashedPassword).toBe(TUTORIAL_HASH)
    const second = await gatehouse(dir, ['users', 'import', '--from', 'sqlite:///fastapi.db'])
    expect(second).toEqual({
      code: 0,
      stdout: 'imported 0, skipped 3 existing, 0 conflicts\n',
      stderr: '',
    })
  })

  it('reports email conflicts on stderr and goes on', async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    await gatehouse(
      dir,
      ['users', 'add', 'johnny', '--email', 'johndoe@example.com', '--password-stdin'],
      stdinOf('a fine passphrase'),
    )
    const result = await gatehouse(dir, ['users', 'import', '--from', 'sqlite:///fastapi.db'])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe('imported 2, skipped 0 existing, 1 conflicts\n')
    expect(result.stderr).toBe(
      "gatehouse: not imported 'johndoe': the email johndoe@example.com belongs to another user\n",
    )
  })

  it('writes nothing in a dry run', async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    const result = await gatehouse(dir, [
      'users',
      'import',
      '--from',
      'sqlite:///fastapi.db',
      '--dry-run',
    ])
    expect(result.stdout).toBe(
      'imported 3, skipped 0 existing, 0 conflicts (dry run: nothing was written)\n',
    )
    expect(await storedUser(dir, 'johndoe')).toBeUndefined()
  })

  it('draws a progress bar on stderr only when it is a terminal', async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    const err = captureLogs()
    const terminal = Object.assign(err.stream, { isTTY: true, columns: 80 })
    const code = await main(
      ['node', 'gatehouse', 'users', 'import', '--from', 'sqlite:///fastapi.db'],
      {
        stdin: Readable.from([]),
        stdout: captureLogs().stream,
        stderr: terminal,
        cwd: dir,
        env: {
          DATABASE_URL: 'sqlite:///users.db',
          SECRET_KEY: 'cli-test-secret-key-0123456789abcdef',
        },
      },
    )
    expect(code).toBe(0)
    expect(err.text()).toContain('Importing users [')
  })

  it('fails clearly without --from, or with a source it cannot read', async () => {
    const dir = tempDir()
    const missingOption = await gatehouse(dir, ['users', 'import'])
    expect(missingOption.code).not.toBe(0)
    expect(missingOption.stderr).toContain("required option '--from <url>'")
    const missingFile = await gatehouse(dir, ['users', 'import', '--from', 'sqlite:///nowhere.db'])
    expect(missingFile.code).toBe(1)
    expect(missingFile.stderr).toMatch(
      /^gatehouse: --from: cannot open the SQLite database at .*nowhere\.db/,
    )
  })

  it.skipIf(skipPostgres)('imports into a PostgreSQL DATABASE_URL', async () => {
    const dir = tempDir()
    writeTutorialDb(dir)
    const { url } = await freshSchema()
    const env = { DATABASE_URL: url }
    expect(
      (await gatehouse(dir, ['users', 'import', '--from', 'sqlite:///fastapi.db'], undefined, env))
        .stdout,
    ).toBe('imported 3, skipped 0 existing, 0 conflicts\n')
    expect(
      (await gatehouse(dir, ['users', 'import', '--from', 'sqlite:///fastapi.db'], undefined, env))
        .stdout,
    ).toBe('imported 0, skipped 3 existing, 0 conflicts\n')
    expect((await gatehouse(dir, ['users', 'list'], undefined, env)).stdout).toMatch(
      /johndoe\s+johndoe@example\.com\s+John Doe\s+active/,
    )
  })
})

describe('gatehouse keys rotate', () => {
  it('adds a new signing key for asymmetric algorithms, audited with the operator', async () => {
    const dir = tempDir()
    const out = captureLogs()
    const err = captureLogs()
    const env = {
      DATABASE_URL: 'sqlite:///users.db',
      SECRET_KEY: 'cli-test-secret-key-0123456789abcdef',
      ALGORITHM: 'ES256',
    }
    const run = async () =>
      main(['node', 'gatehouse', 'keys', 'rotate'], {
        stdin: Readable.from([]),
        stdout: out.stream,
        stderr: err.stream,
        env,
        cwd: dir,
      })
    expect(await run()).toBe(0)
    expect(await run()).toBe(0)
    const store = openSqliteStore(join(dir, 'users.db'))
    const keys = await store.listSigningKeys(Date.now())
    const events = (await store.listAudit({ limit: 10 })).reverse()
    await store.close()
    expect(keys).toHaveLength(3)
    expect(keys.filter((key) => key.retireAt === null)).toHaveLength(1)
    // The two rotations are recorded (not the key made at first start), the last one naming the key in use.
    const actor = `cli:${userInfo().username}`
    expect(events.map((event) => [event.type, event.outcome, event.username, event.actor])).toEqual(
      [
        ['admin', 'rotate_signing_key', actor, actor],
        ['admin', 'rotate_signing_key', actor, actor],
      ],
    )
    const current = keys.find((key) => key.retireAt === null)!
    const [first, second] = events.map((event) => event.detail?.replace(/^key /, ''))
    expect(second).toBe(current.kid)
    expect(keys.map((key) => key.kid)).toContain(first)
    expect(first).not.toBe(second)
    expect(out.text()).toMatch(/New signing key [\w-]{43}/)
  })

  it('explains that HMAC keys are rotated by changing SECRET_KEY', async () => {
    const result = await gatehouse(tempDir(), ['keys', 'rotate'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('rotate it by changing SECRET_KEY')
  })
})

describe('gatehouse hash-password', () => {
  it('prints an argon2id hash of the password', async () => {
    const result = await gatehouse(
      tempDir(),
      ['hash-password', '--password-stdin'],
      stdinOf('hunter2\n'),
    )
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(result.stdout).not.toContain('hunter2')
  })
})

describe('the installed command', () => {
  it('runs end to end as a separate process through bin/gatehouse.js', async () => {
    const dir = tempDir()
    const bin = join(import.meta.dirname, '..', 'bin', 'gatehouse.js')
    const run = promisify(execFile)
    const env = { ...process.env, DATABASE_URL: 'sqlite:///users.db', SECRET_KEY: '' }
    const child = run(process.execPath, [bin, 'users', 'add', 'carol', '--password-stdin'], {
      cwd: dir,
      env,
    })
    child.child.stdin?.end('carol-password\n')
    expect((await child).stdout).toContain("Created user 'carol'")
    const listed = await run(process.execPath, [bin, 'users', 'list'], { cwd: dir, env })
    expect(listed.stdout).toContain('carol')
    const failed = await run(process.execPath, [bin, 'users', 'remove', 'nobody'], {
      cwd: dir,
      env,
    }).catch((error: { code: number; stderr: string }) => error)
    expect(failed).toMatchObject({ code: 1, stderr: "gatehouse: No user named 'nobody'\n" })
    expect(() => readFileSync(join(dir, '.env'))).toThrow()
  })
})
