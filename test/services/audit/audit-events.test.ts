// The audit vocabulary's rules, which every row of a kind follows whichever use-case recorded it:
// who is the actor, what the detail names, and that the stored fields are filled the same way.
import { describe, expect, it } from 'vitest'
import { auditEvent } from '../../../src/services/audit/audit-events.js'

const client = { ip: '203.0.113.7', userAgent: 'curl/8' }
const admin = { name: 'root', ip: '198.51.100.1', userAgent: 'admin-ui' }
const holder = { name: 'alice', userId: 7, ip: '203.0.113.7', userAgent: 'firefox' }

describe('the audit vocabulary', () => {
  it('names the user as actor of a login only once it succeeded', () => {
    expect(auditEvent.login('success', 'alice', client)).toEqual({
      type: 'login',
      outcome: 'success',
      username: 'alice',
      ip: '203.0.113.7',
      userAgent: 'curl/8',
      actor: 'alice',
      detail: null,
    })
    expect(auditEvent.login('bad_credentials', 'alice', client)).toMatchObject({
      username: 'alice',
      actor: null,
    })
    expect(auditEvent.login('bad_second_factor', null, client, 'otp')).toMatchObject({
      type: 'login',
      username: null,
      actor: null,
      detail: 'otp',
    })
  })

  it('names the admin as subject and actor of an admin change, and what changed in the detail', () => {
    const expected = (outcome: string, detail: string) => ({
      type: 'admin',
      outcome,
      username: 'root',
      ip: '198.51.100.1',
      userAgent: 'admin-ui',
      actor: 'root',
      detail,
    })
    expect(auditEvent.userChanged(admin, 'disable_user', 'bob')).toEqual(
      expected('disable_user', 'user bob'),
    )
    expect(auditEvent.clientChanged(admin, 'create_client', 'app-1')).toEqual(
      expected('create_client', 'client app-1'),
    )
    expect(auditEvent.clientChanged(admin, 'remove_client', 'app-1', '2 sessions ended')).toEqual(
      expected('remove_client', 'client app-1: 2 sessions ended'),
    )
    expect(auditEvent.signingKeyRotated(admin, 'kid-1')).toEqual(
      expected('rotate_signing_key', 'key kid-1'),
    )
    expect(
      auditEvent.usersImported(admin, { imported: 3, skippedExisting: 1, conflicts: 0 }),
    ).toEqual(expected('import_users', 'imported 3, skipped 1, 0 conflicts'))
  })

  it('names a client as actor of its own token, and nobody for a bad client secret', () => {
    expect(auditEvent.clientTokenIssued('app-1', client)).toMatchObject({
      type: 'client_token',
      outcome: 'success',
      username: null,
      actor: 'client:app-1',
      detail: 'client app-1',
    })
    const failed = auditEvent.clientAuthenticationFailed('app-1', '203.0.113.7')
    expect(failed).toMatchObject({ outcome: 'bad_client_credentials', detail: 'client app-1' })
    expect(failed.actor ?? null).toBeNull()
  })

  it('names the holder as actor of what they do to their own account', () => {
    expect(auditEvent.sessionsEnded(holder, 'logout')).toMatchObject({
      type: 'logout',
      outcome: 'success',
      username: 'alice',
      actor: 'alice',
    })
    expect(auditEvent.sessionsEnded(holder, 'all')).toMatchObject({
      type: 'session_revoked',
      outcome: 'all',
      actor: 'alice',
    })
    expect(auditEvent.mfa(holder, 'alice', 'enrolled')).toMatchObject({
      type: 'mfa',
      username: 'alice',
      actor: 'alice',
    })
    expect(auditEvent.mfa(admin, 'alice', 'reset')).toMatchObject({
      username: 'alice',
      actor: 'root',
    })
  })

  it('names nobody as actor of a reset request, whatever became of it', () => {
    for (const event of [
      auditEvent.passwordResetRequested('throttled', client),
      auditEvent.passwordResetRequested('requested', client, 'alice'),
      auditEvent.passwordResetRequested('not_sent', client, null, 'unknown_account'),
    ])
      expect(event.actor ?? null).toBeNull()
    expect(auditEvent.passwordReset('success', 'alice', client)).toMatchObject({
      type: 'password_reset',
      actor: 'alice',
    })
  })
})
