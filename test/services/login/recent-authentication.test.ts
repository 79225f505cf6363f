// The recent-authentication guard (services/login/recent-authentication.ts) on a temporary store,
// with a stand-in password check: the password now, or a login within the window; the session's
// creation is the login, a refresh does not renew it; a wrong password is IncorrectPassword.
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  IncorrectPassword,
  InsufficientUserAuthentication,
  InvalidCredentials,
  Throttled,
} from '../../../src/errors.js'
import type { PasswordCheck } from '../../../src/services/login/password-check.js'
import { createRecentAuthentication } from '../../../src/services/login/recent-authentication.js'
import { build } from '../../helper.js'

const FROM = { ip: '203.0.113.7', userAgent: 'test' }

async function setUp(maxAgeSeconds = 300) {
  const t = await build()
  await t.addUser({ username: 'alice', password: 'alice-password' })
  const user = (await t.store.findUserByUsername('alice'))!
  const holder = { userId: user.id, name: 'alice', ...FROM }
  const checked: string[] = []
  const checkPassword: PasswordCheck = async (username, password) => {
    checked.push(username)
    if (password === 'throttled') throw new Throttled(30)
    if (password !== 'alice-password') throw new InvalidCredentials()
    return { user, verifiedHash: user.hashedPassword }
  }
  const guard = createRecentAuthentication({ store: t.store, checkPassword, maxAgeSeconds })
  const tokens = await t.services.sessions.start(user, undefined, FROM)
  const { sessionId } = await t.services.currentUser(tokens.access_token)
  return { t, holder, guard, sessionId, refreshToken: tokens.refresh_token!, checked }
}

const later = (seconds: number) =>
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + seconds * 1000 })

afterEach(() => {
  vi.useRealTimers()
})

describe('recent authentication', () => {
  it('passes a session that logged in within the window, without a password check', async () => {
    const { holder, guard, sessionId, checked } = await setUp()
    await expect(guard(holder, { sessionId })).resolves.toBe('recent_login')
    expect(checked).toEqual([])
  })

  it('refuses an older login with max_age, whatever refreshes happened since', async () => {
    const { t, holder, guard, sessionId, refreshToken } = await setUp()
    later(301)
    await t.services.sessions.refresh(refreshToken, undefined, FROM)
    const refused = await guard(holder, { sessionId }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(InsufficientUserAuthentication)
    expect((refused as InsufficientUserAuthentication).maxAge).toBe(300)
  })

  it('refuses a session that is not the holder’s live one', async () => {
    const { t, holder, guard, sessionId } = await setUp()
    await expect(guard(holder, { sessionId: 'someone-elses' })).rejects.toBeInstanceOf(
      InsufficientUserAuthentication,
    )
    await t.services.sessions.logout(holder, sessionId)
    await expect(guard(holder, { sessionId })).rejects.toBeInstanceOf(
      InsufficientUserAuthentication,
    )
  })

  it('passes the current password through the pipeline; a wrong one is IncorrectPassword, a throttle stays one', async () => {
    const { holder, guard, sessionId, checked } = await setUp()
    later(3_600)
    await expect(guard(holder, { sessionId, currentPassword: 'alice-password' })).resolves.toBe(
      'password',
    )
    await expect(guard(holder, { sessionId, currentPassword: 'nope' })).rejects.toBeInstanceOf(
      IncorrectPassword,
    )
    await expect(guard(holder, { sessionId, currentPassword: 'throttled' })).rejects.toBeInstanceOf(
      Throttled,
    )
    expect(checked).toEqual(['alice', 'alice', 'alice'])
  })

  it('checks a password sent even when the login is recent', async () => {
    const { holder, guard, sessionId } = await setUp()
    await expect(guard(holder, { sessionId, currentPassword: 'nope' })).rejects.toBeInstanceOf(
      IncorrectPassword,
    )
  })

  it('with a window of 0 asks for the password always', async () => {
    const { holder, guard, sessionId } = await setUp(0)
    const refused = await guard(holder, { sessionId }).catch((error: unknown) => error)
    expect((refused as InsufficientUserAuthentication).maxAge).toBe(0)
  })
})
