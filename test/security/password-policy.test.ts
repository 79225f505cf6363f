import { dictionary } from '@zxcvbn-ts/language-common'
import { describe, expect, it } from 'vitest'
import { InvalidInput } from '../../src/errors.js'
import { checkNewPassword } from '../../src/security/password-policy.js'

const rules = { minLength: 8, username: 'alice', email: 'alice@example.com' }

describe('new password policy', () => {
  it.each([
    'correct horse battery staple',
    'ünïcödé-pässwörd',
    '密码是一个很长的句子吧',
    'spaces   are   fine',
    'x'.repeat(1024),
  ])('accepts %j', async (password) => {
    await expect(checkNewPassword(password, rules)).resolves.toBeUndefined()
  })

  it.each([
    ['too short', 'abc1234', /at least 8/],
    ['too long (refused, never truncated)', 'x'.repeat(1025), /at most 1024/],
    ['with a control character', 'good\u0000password', /control characters/],
    ['a common password', 'password1', /too common/],
    ['a common password in other case', 'PassWord1', /too common/],
    ['a common keyboard walk', 'qwertyuiop', /too common/],
    ['the username', 'Alice', /at least 8/],
    ['the email', 'ALICE@example.com', /username or the email/],
  ])('refuses %s', async (_name, password, message) => {
    await expect(checkNewPassword(password, rules)).rejects.toThrow(InvalidInput)
    await expect(checkNewPassword(password, rules)).rejects.toThrow(message)
  })

  it('counts characters as people do, not UTF-16 units', async () => {
    await expect(checkNewPassword('😀😀😀😀😀😀😀😀', rules)).resolves.toBeUndefined()
    await expect(checkNewPassword('😀😀😀😀😀😀😀', rules)).rejects.toThrow(/at least 8/)
  })

  it('judges the NFKC form, which is what gets hashed', async () => {
    // Each ligature is one code point but three letters once normalized: 11 characters, long enough.
    await expect(checkNewPassword('\ufb03\ufb03\ufb03ab', rules)).resolves.toBeUndefined()
    // Full-width letters are the common password itself.
    await expect(checkNewPassword('ｐａｓｓｗｏｒｄ１', rules)).rejects.toThrow(/too common/)
  })

  it('checks against a bundled offline list of well over 10,000 breached passwords', async () => {
    const list = dictionary['passwords-common']
    expect(list.length).toBeGreaterThan(10_000)
    for (const common of list
      .slice(0, 10_000)
      .filter((password) => password.length >= 8)
      .slice(0, 500)) {
      await expect(checkNewPassword(common, rules)).rejects.toThrow(/too common/)
    }
  })
})
