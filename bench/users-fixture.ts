// The bench's users: argon2id users (one hash from the app's own hasher, shared by all) and bcrypt
// cost-12 users as imported from a FastAPI app (one `$2b$12$` hash, shared). Gatehouse upgrades a
// bcrypt hash on its first successful login, so each bcrypt user gives exactly one measured login.
import { hash as bcryptHash } from '@node-rs/bcrypt'
import { createPasswordHasher } from '../src/security/passwords.js'
import { openStore } from '../src/store/open.js'

/** Every bench user's password. */
export const BENCH_PASSWORD = 'correct horse battery staple'

export interface UsersFixture {
  argon2Users: string[]
  bcryptUsers: string[]
  bcryptHash: string
  /** The argon2id users' hash (OWASP parameters). */
  argon2Hash: string
}

export async function createUsersFixture(
  databaseUrl: string,
  counts: { argon2: number; bcrypt: number },
): Promise<UsersFixture> {
  const argon2Hash = await createPasswordHasher({ concurrency: 1, maxQueued: 1 }).hash(
    BENCH_PASSWORD,
  )
  const legacyHash = await bcryptHash(BENCH_PASSWORD, 12)
  const store = await openStore(databaseUrl)
  const fixture: UsersFixture = {
    argon2Users: [],
    bcryptUsers: [],
    bcryptHash: legacyHash,
    argon2Hash,
  }
  try {
    for (let index = 0; index < counts.argon2; index++) {
      const username = `argon2-${index}`
      await store.createUser({ username, hashedPassword: argon2Hash })
      fixture.argon2Users.push(username)
    }
    for (let index = 0; index < counts.bcrypt; index++) {
      const username = `bcrypt-${index}`
      await store.createUser({
        username,
        email: `${username}@example.com`,
        fullName: 'Imported User',
        hashedPassword: legacyHash,
      })
      fixture.bcryptUsers.push(username)
    }
  } finally {
    await store.close()
  }
  return fixture
}
