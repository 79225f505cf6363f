// The second-factor use-case as a service, on a temporary SQLite store: TOTP enrolment and its
// confirmation, the second step of a password login (mfa_token, then a code or a recovery code),
// replays and single use, the throttle on wrong codes, removal, and the admin reset. Codes are
// computed here from the secret with otpauth, not with Gatehouse's own TOTP code.
import { Secret, TOTP } from 'otpauth'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  IncorrectPassword,
  InvalidInput,
  InvalidSecondFactor,
  MfaRequired,
  NotFound,
  Throttled,
} from '../../../src/errors.js'
import { MFA_AMR, RECOVERY_CODE_COUNT } from '../../../src/services/mfa/mfa.js'
import { build, TEST_ACTOR, type TestApp } from '../../helper.js'

const FROM = { ip: '203.0.113.7', userAgent: 'mfa-test' }
const PASSWORD = 'correct horse battery'

/** The code of `secret` at `offset` steps from now. */
const codeOf = (secret: string, offset = 0): string =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * 30_000 })

beforeEach(() => {
  // The middle of a 30 s step, so that "the previous step" and "now" never straddle a boundary.
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Math.floor(Date.now() / 30_000) * 30_000 + 15_000)
})

afterEach(() => {
  vi.useRealTimers()
})

/** Whether an access token still lets its holder in. */
const passes = (t: TestApp, accessToken: string): Promise<boolean> =>
  t.services.currentUser(accessToken).then(
    () => true,
    () => false,
  )

async function withAlice() {
  const t = await build()
  await t.addUser({ username: 'alice', password: PASSWORD })
  const user = (await t.store.findUserByUsername('alice'))!
  const holder = { userId: user.id, name: 'alice', ...FROM }
  /** A session of Alice's, opened as a password login opens one. */
  const session = async () => {
    const current = (await t.store.findUserByUsername('alice'))!
    const response = await t.services.sessions.start(current, undefined, FROM)
    return {
      accessToken: response.access_token,
      id: (await t.services.currentUser(response.access_token)).sessionId,
    }
  }
  /** The password step of a login: the mfa_token it answers once a factor is confirmed. */
  const passwordStep = async (clientId?: string): Promise<string> => {
    const refused = await t.services
      .login({ username: 'alice', password: PASSWORD, scope: undefined, clientId }, FROM)
      .then(
        () => undefined,
        (error: unknown) => error,
      )
    expect(refused).toBeInstanceOf(MfaRequired)
    return (refused as MfaRequired).mfaToken
  }
  return { t, user, holder, mfa: t.services.mfa, session, passwordStep }
}

/** Alice with a confirmed TOTP factor (confirmed with the previous step's code: now's is unused). */
async function enrolled() {
  const alice = await withAlice()
  const current = await alice.session()
  const { secret } = await alice.mfa.startTotp(alice.holder, { sessionId: current.id })
  const { recovery_codes } = await alice.mfa.confirmTotp(
    alice.holder,
    { sessionId: current.id },
    codeOf(secret, -1),
  )
  return { ...alice, secret, recoveryCodes: recovery_codes }
}

const mfaAudit = async (t: TestApp) =>
  (await t.store.listAudit({ limit: 100 }))
    .reverse()
    .filter((event) => event.type === 'mfa')
    .map((event) => [event.outcome, event.username, event.actor])

describe('TOTP enrolment', () => {
  it('is pending until a first code confirms it, then gives single-view recovery codes and ends the other sessions', async () => {
    const { t, user, holder, mfa, session } = await withAlice()
    const current = await session()
    const other = await session()
    const enrolment = await mfa.startTotp(holder, { sessionId: current.id })
    expect(enrolment.otpauth_uri).toMatch(/^otpauth:\/\/totp\/Gatehouse:alice\?/)
    expect(enrolment.otpauth_uri).toContain(`secret=${enrolment.secret}`)
    expect(enrolment.qr_svg).toMatch(/^<svg/)
    expect(await mfa.status(user.id)).toEqual({ totp: 'pending', recovery_codes_left: 0 })

    const wrong = codeOf(enrolment.secret, 5)
    await expect(mfa.confirmTotp(holder, { sessionId: current.id }, wrong)).rejects.toBeInstanceOf(
      InvalidSecondFactor,
    )
    expect(await mfa.status(user.id)).toEqual({ totp: 'pending', recovery_codes_left: 0 })

    const { recovery_codes } = await mfa.confirmTotp(
      holder,
      { sessionId: current.id },
      codeOf(enrolment.secret),
    )
    expect(recovery_codes).toHaveLength(RECOVERY_CODE_COUNT)
    expect(new Set(recovery_codes).size).toBe(RECOVERY_CODE_COUNT)
    for (const code of recovery_codes) expect(code).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/)
    expect(await mfa.status(user.id)).toEqual({
      totp: 'confirmed',
      recovery_codes_left: RECOVERY_CODE_COUNT,
    })
    expect(await passes(t, current.accessToken)).toBe(true)
    expect(await passes(t, other.accessToken)).toBe(false)
    // Nothing of the secret or the codes in the audit log.
    const audit = JSON.stringify(await t.store.listAudit({ limit: 100 }))
    expect(audit).not.toContain(enrolment.secret)
    expect(audit).not.toContain(recovery_codes[0]!)
    expect(await mfaAudit(t)).toEqual([
      ['enrol_started', 'alice', 'alice'],
      ['enrol_bad_code', 'alice', 'alice'],
      ['enrolled', 'alice', 'alice'],
    ])
  })

  it('refuses a second enrolment while one is confirmed, and a confirmation with nothing pending', async () => {
    const { holder, mfa, session, secret } = await enrolled()
    const sessionId = (await session()).id
    await expect(mfa.startTotp(holder, { sessionId })).rejects.toBeInstanceOf(InvalidInput)
    await expect(mfa.confirmTotp(holder, { sessionId }, codeOf(secret))).rejects.toBeInstanceOf(
      NotFound,
    )
  })
})

describe('the second step of a login', () => {
  it('asks for a second factor after the password, and opens a session for a right code', async () => {
    const { t, mfa, passwordStep, secret } = await enrolled()
    const mfaToken = await passwordStep()
    const response = await mfa.completeWithOtp(mfaToken, codeOf(secret), undefined, FROM)
    const principal = await t.services.currentUser(response.access_token)
    expect(principal.amr).toEqual(MFA_AMR)
    expect(response.refresh_token).toBeDefined()
    const logins = (await t.store.listAudit({ limit: 100 }))
      .reverse()
      .filter((event) => event.type === 'login')
      .map((event) => [event.outcome, event.detail])
    expect(logins).toEqual([
      ['mfa_required', null],
      ['success', 'otp'],
    ])
  })

  it('uses each mfa_token and each code once', async () => {
    const { mfa, passwordStep, secret } = await enrolled()
    const mfaToken = await passwordStep()
    await mfa.completeWithOtp(mfaToken, codeOf(secret), undefined, FROM)
    await expect(
      mfa.completeWithOtp(mfaToken, codeOf(secret, 1), undefined, FROM),
    ).rejects.toBeInstanceOf(InvalidSecondFactor)
    // The code just used, with a fresh mfa_token: a replay.
    await expect(
      mfa.completeWithOtp(await passwordStep(), codeOf(secret), undefined, FROM),
    ).rejects.toBeInstanceOf(InvalidSecondFactor)
  })

  it('spends a recovery code, typed in any case and spacing, once', async () => {
    const { user, mfa, passwordStep, recoveryCodes } = await enrolled()
    const [first, second] = recoveryCodes as [string, string]
    await mfa.completeWithRecoveryCode(await passwordStep(), first, undefined, FROM)
    await expect(
      mfa.completeWithRecoveryCode(await passwordStep(), first, undefined, FROM),
    ).rejects.toBeInstanceOf(InvalidSecondFactor)
    const typed = ` ${second.replace('-', ' ').toUpperCase()} `
    await mfa.completeWithRecoveryCode(await passwordStep(), typed, undefined, FROM)
    expect(await mfa.status(user.id)).toMatchObject({
      recovery_codes_left: RECOVERY_CODE_COUNT - 2,
    })
  })

  it('binds the mfa_token to its client, its credentials and five minutes', async () => {
    const { t, mfa, passwordStep, secret } = await enrolled()
    const forSpa = await passwordStep('spa')
    await expect(
      mfa.completeWithOtp(forSpa, codeOf(secret), undefined, FROM),
    ).rejects.toBeInstanceOf(InvalidSecondFactor)

    const beforeChange = await passwordStep()
    await t.services.accounts.setPassword('alice', 'another horse battery', TEST_ACTOR)
    await expect(
      mfa.completeWithOtp(beforeChange, codeOf(secret), undefined, FROM),
    ).rejects.toBeInstanceOf(InvalidSecondFactor)
    await t.services.accounts.setPassword('alice', PASSWORD, TEST_ACTOR)

    const late = await passwordStep()
    vi.setSystemTime(Date.now() + 5 * 60_000)
    await expect(mfa.completeWithOtp(late, codeOf(secret), undefined, FROM)).rejects.toBeInstanceOf(
      InvalidSecondFactor,
    )
  })

  it('refuses the right code after five wrong ones on one mfa_token', async () => {
    const { mfa, passwordStep, secret } = await enrolled()
    const mfaToken = await passwordStep()
    for (let i = 0; i < 5; i++)
      await expect(mfa.completeWithOtp(mfaToken, '000000', undefined, FROM)).rejects.toBeInstanceOf(
        InvalidSecondFactor,
      )
    await expect(
      mfa.completeWithOtp(mfaToken, codeOf(secret), undefined, FROM),
    ).rejects.toBeInstanceOf(Throttled)
  })
})

describe('removing a factor', () => {
  it('needs the password (or a recent login) and a code, then ends the other sessions, and logins need the password only', async () => {
    const { t, user, holder, mfa, session, secret } = await enrolled()
    const current = await session()
    const other = await session()
    const withPassword = (currentPassword: string) => ({ sessionId: current.id, currentPassword })
    await expect(
      mfa.removeTotp(holder, withPassword('a wrong password'), codeOf(secret)),
    ).rejects.toBeInstanceOf(IncorrectPassword)
    // The password alone (or a token alone) does not remove the factor: it takes a current code.
    await expect(mfa.removeTotp(holder, withPassword(PASSWORD), '000000')).rejects.toBeInstanceOf(
      InvalidSecondFactor,
    )
    expect(await mfa.status(user.id)).toMatchObject({ totp: 'confirmed' })
    await mfa.removeTotp(holder, withPassword(PASSWORD), codeOf(secret))
    expect(await mfa.status(user.id)).toEqual({ totp: 'none', recovery_codes_left: 0 })
    expect(await passes(t, current.accessToken)).toBe(true)
    expect(await passes(t, other.accessToken)).toBe(false)
    await expect(
      t.services.login({ username: 'alice', password: PASSWORD, scope: undefined }, FROM),
    ).resolves.toMatchObject({ token_type: 'bearer' })
    await expect(
      mfa.removeTotp(holder, withPassword(PASSWORD), codeOf(secret)),
    ).rejects.toBeInstanceOf(NotFound)
  })

  it('lets an admin reset a user’s factor, ending every session, audited with the admin', async () => {
    const { t, mfa, session } = await enrolled()
    const current = await session()
    await mfa.reset('alice', TEST_ACTOR)
    expect(await mfa.statusOf('alice')).toEqual({ totp: 'none', recovery_codes_left: 0 })
    expect(await passes(t, current.accessToken)).toBe(false)
    await mfa.reset('alice', TEST_ACTOR)
    expect((await mfaAudit(t)).slice(-2)).toEqual([
      ['reset', 'alice', TEST_ACTOR.name],
      ['reset_none_enrolled', 'alice', TEST_ACTOR.name],
    ])
  })
})
