// The sessions use-case as a service, on a temporary SQLite store: refresh rotation and reuse detection
// (the whole session ends), the grace that answers a lost rotation again, logout, ending one or every
// session, expiry (absolute and idle), RFC 7009 revocation, and scopes that never widen on refresh.
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  InvalidCredentials,
  InvalidRefreshToken,
  InvalidScope,
  NotFound,
} from '../../../src/errors.js'
import { build, TEST_ACTOR, type TestApp } from '../../helper.js'

const FROM = { ip: '203.0.113.7', userAgent: 'sessions-test' }
const DAY = 86_400_000

afterEach(() => {
  vi.useRealTimers()
})

/** Alice (scopes me and items), and sessions of hers opened as a password login opens them. */
async function withAlice(env: Record<string, string> = {}) {
  const t = await build({ env })
  await t.addUser({ username: 'alice', scopes: ['me', 'items'] })
  const user = (await t.store.findUserByUsername('alice'))!
  const holder = { userId: user.id, name: 'alice', ...FROM }
  const { sessions } = t.services
  const start = async (scope?: string) => {
    // Read again each time: a session opens only over the user's current credentials.
    const current = (await t.store.findUserByUsername('alice'))!
    const response = await sessions.start(current, scope, FROM)
    const { sessionId } = await t.services.currentUser(response.access_token)
    return { ...response, refresh_token: response.refresh_token!, sessionId }
  }
  const refresh = async (refreshToken: string, scope?: string) => {
    const response = await sessions.refresh(refreshToken, scope, FROM)
    return { ...response, refresh_token: response.refresh_token! }
  }
  return { t, user, holder, sessions, start, refresh }
}

/** Whether an access token still lets its holder in. */
const passes = (t: TestApp, accessToken: string): Promise<boolean> =>
  t.services.currentUser(accessToken).then(
    () => true,
    () => false,
  )

const auditOf = async (t: TestApp) =>
  (await t.store.listAudit({ limit: 100 }))
    .reverse()
    .map(({ type, outcome, username, actor, detail }) => ({
      type,
      outcome,
      username,
      actor,
      detail,
    }))

describe('sessions', () => {
  it('rotates the refresh token on each use within one session', async () => {
    const { t, start, refresh } = await withAlice()
    const first = await start()
    const second = await refresh(first.refresh_token)
    const third = await refresh(second.refresh_token)
    expect(new Set([first.refresh_token, second.refresh_token, third.refresh_token]).size).toBe(3)
    expect((await t.services.currentUser(third.access_token)).sessionId).toBe(first.sessionId)
    expect(third).toMatchObject({ token_type: 'bearer', expires_in: 1_800 })
    expect((await auditOf(t)).filter((event) => event.type === 'token_refresh')).toEqual([
      {
        type: 'token_refresh',
        outcome: 'success',
        username: 'alice',
        actor: 'alice',
        detail: null,
      },
      {
        type: 'token_refresh',
        outcome: 'success',
        username: 'alice',
        actor: 'alice',
        detail: null,
      },
    ])
  })

  it('ends the whole session when a spent refresh token comes back (reuse detection), and only that one', async () => {
    const { t, start, refresh } = await withAlice({ REFRESH_REUSE_GRACE_SECONDS: '0' })
    const stolen = await start()
    const other = await start()
    const latest = await refresh((await refresh(stolen.refresh_token)).refresh_token)

    await expect(refresh(stolen.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    // The newest token of the family and its access token die with it: one of the two holders is a thief.
    await expect(refresh(latest.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    expect(await passes(t, latest.access_token)).toBe(false)
    expect(await passes(t, other.access_token)).toBe(true)
    await expect(refresh(other.refresh_token)).resolves.toBeDefined()
    expect(await auditOf(t)).toContainEqual({
      type: 'refresh_reuse',
      outcome: 'session_revoked',
      username: 'alice',
      actor: null,
      detail: `session ${stolen.sessionId}`,
    })
  })

  it('answers a retry within the grace with the same successor, and treats it as reuse after', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { start, refresh } = await withAlice({ REFRESH_REUSE_GRACE_SECONDS: '10' })
    const first = await start()
    const second = await refresh(first.refresh_token)
    // The answer was lost on the way: the same request again gets the same successor.
    const retried = await refresh(first.refresh_token)
    expect(retried.refresh_token).toBe(second.refresh_token)
    vi.setSystemTime(Date.now() + 11_000)
    await expect(refresh(first.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    await expect(refresh(second.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)

    // Within the grace too, once the successor has been used: the answer was not lost after all.
    const again = await start()
    const used = await refresh((await refresh(again.refresh_token)).refresh_token)
    await expect(refresh(again.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    await expect(refresh(used.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
  })

  it('logs out the current session only, and ends one session only for its own holder', async () => {
    const { t, holder, sessions, start, refresh } = await withAlice()
    await t.addUser({ username: 'bob' })
    const bob = (await t.store.findUserByUsername('bob'))!
    const phone = await start()
    const laptop = await start()

    await sessions.logout(holder, phone.sessionId)
    expect(await passes(t, phone.access_token)).toBe(false)
    await expect(refresh(phone.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    expect(await passes(t, laptop.access_token)).toBe(true)
    // Ended already, or someone else's: not found, and nothing changes.
    await expect(sessions.logout(holder, phone.sessionId)).rejects.toBeInstanceOf(NotFound)
    const mallory = { ...holder, userId: bob.id, name: 'bob' }
    await expect(sessions.endOne(mallory, laptop.sessionId)).rejects.toBeInstanceOf(NotFound)
    expect(await passes(t, laptop.access_token)).toBe(true)

    await sessions.endOne(holder, laptop.sessionId)
    expect(await passes(t, laptop.access_token)).toBe(false)
    expect(
      (await auditOf(t)).filter((event) => ['logout', 'session_revoked'].includes(event.type)),
    ).toEqual([
      { type: 'logout', outcome: 'success', username: 'alice', actor: 'alice', detail: null },
      { type: 'session_revoked', outcome: 'one', username: 'alice', actor: 'alice', detail: null },
    ])
  })

  it('lists the live sessions, marking the current one, and ends them all at once', async () => {
    const { t, holder, sessions, start, refresh } = await withAlice()
    const phone = await start()
    const laptop = await start()
    const listed = await sessions.list(holder.userId, laptop.sessionId)
    expect(listed.map((session) => [session.id, session.current]).sort()).toEqual(
      [
        [phone.sessionId, false],
        [laptop.sessionId, true],
      ].sort(),
    )
    expect(listed[0]).toMatchObject({ ip: FROM.ip, user_agent: FROM.userAgent, scope: 'me items' })

    await sessions.endAll(holder)
    for (const session of [phone, laptop]) {
      expect(await passes(t, session.access_token)).toBe(false)
      await expect(refresh(session.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    }
    expect(await sessions.list(holder.userId, laptop.sessionId)).toEqual([])
    expect(await auditOf(t)).toContainEqual({
      type: 'session_revoked',
      outcome: 'all',
      username: 'alice',
      actor: 'alice',
      detail: null,
    })
  })

  it('expires a session after its idle time, and a used one at its absolute lifetime', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { start, refresh } = await withAlice({
      REFRESH_TOKEN_EXPIRE_DAYS: '3',
      REFRESH_TOKEN_IDLE_DAYS: '1',
    })
    const idle = await start()
    let busy = (await start()).refresh_token
    vi.setSystemTime(Date.now() + 0.9 * DAY)
    busy = (await refresh(busy)).refresh_token
    vi.setSystemTime(Date.now() + 0.2 * DAY)
    // 1.1 days unused: past the idle time.
    await expect(refresh(idle.refresh_token)).rejects.toBeInstanceOf(InvalidRefreshToken)
    busy = (await refresh(busy)).refresh_token
    // Used every 0.9 days: alive up to the absolute lifetime, never beyond it.
    for (let round = 0; round < 2; round++) {
      vi.setSystemTime(Date.now() + 0.9 * DAY)
      busy = (await refresh(busy)).refresh_token
    }
    vi.setSystemTime(Date.now() + 0.2 * DAY)
    await expect(refresh(busy)).rejects.toBeInstanceOf(InvalidRefreshToken)
  })

  it('revokes the session of a refresh or an access token (RFC 7009), and ignores unknown tokens', async () => {
    const { t, sessions, start } = await withAlice()
    const byRefresh = await start()
    const byAccess = await start()
    const untouched = await start()
    await sessions.revokeToken(byRefresh.refresh_token)
    await sessions.revokeToken(byAccess.access_token)
    await expect(sessions.revokeToken('not-a-token-at-all')).resolves.toBeUndefined()
    expect(await passes(t, byRefresh.access_token)).toBe(false)
    expect(await passes(t, byAccess.access_token)).toBe(false)
    expect(await passes(t, untouched.access_token)).toBe(true)
  })

  it('opens no session over credentials that changed since the password was checked', async () => {
    const { t, sessions } = await withAlice()
    const checked = (await t.store.findUserByUsername('alice'))!
    await t.services.accounts.setPassword('alice', 'another horse battery', TEST_ACTOR)
    await expect(sessions.start(checked, undefined, FROM)).rejects.toBeInstanceOf(
      InvalidCredentials,
    )
  })

  it('grants what was asked within the user’s scopes, never more on refresh, and drops a scope the user lost', async () => {
    const { t, start, refresh } = await withAlice()
    const all = await start()
    // Nothing asked: all the user holds, said in the answer since it is not what was asked.
    expect(all.scope).toBe('me items')
    const narrow = await start('me')
    expect(narrow.scope).toBeUndefined()
    await expect(refresh(narrow.refresh_token, 'me items')).rejects.toBeInstanceOf(InvalidScope)
    await expect(start('admin')).rejects.toBeInstanceOf(InvalidScope)

    await t.services.accounts.setScopes('alice', ['me'], TEST_ACTOR)
    const refreshed = await refresh(all.refresh_token)
    expect(refreshed.scope).toBe('me')
    expect((await t.services.currentUser(refreshed.access_token)).scopes).toEqual(['me'])
  })
})
