// The mails Gatehouse sends, as plain text and simple HTML templates with `{{name}}` placeholders.
// A deployment replaces them with a directory of its own (MAIL_TEMPLATES_DIR): `<kind>.txt`, whose
// first line is `Subject: ...`, and `<kind>.html`, for each kind. Values are HTML-escaped in HTML.
// Kinds added after a release fall back to their built-in template when the directory lacks them, so
// that a deployment's directory keeps starting; `reset` and `verify` must be there.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../errors.js'

export const MAIL_KINDS = ['reset', 'verify', 'email_changed', 'email_taken'] as const
export type MailKind = (typeof MAIL_KINDS)[number]

export interface MailValues {
  username: string
  /** The one-time link ('' for notices). */
  link: string
  /** How long the link is valid, in words ("30 minutes"; '' for notices). */
  validFor: string
}

export interface MailTemplate {
  subject: string
  text: string
  html: string
}

const BUILT_IN: Record<MailKind, MailTemplate> = {
  reset: {
    subject: 'Reset your password',
    text: `Hello {{username}},

Someone (hopefully you) asked to reset the password of your account. To choose a new one, open
this link within {{validFor}}:

{{link}}

If you did not ask for this, ignore this message: your password stays as it is.
`,
    html: `<p>Hello {{username}},</p>
<p>Someone (hopefully you) asked to reset the password of your account. To choose a new one, open
this link within {{validFor}}:</p>
<p><a href="{{link}}">Reset my password</a></p>
<p>If you did not ask for this, ignore this message: your password stays as it is.</p>
`,
  },
  verify: {
    subject: 'Confirm your e-mail address',
    text: `Hello {{username}},

Please confirm that this is your e-mail address by opening this link within {{validFor}}:

{{link}}

If you did not give this address to us, ignore this message.
`,
    html: `<p>Hello {{username}},</p>
<p>Please confirm that this is your e-mail address by opening this link within {{validFor}}:</p>
<p><a href="{{link}}">Confirm my address</a></p>
<p>If you did not give this address to us, ignore this message.</p>
`,
  },
  email_changed: {
    subject: 'Your e-mail address was changed',
    text: `Hello {{username}},

The e-mail address of your account was changed, so messages about it no longer come here, and
password reset links sent here before no longer work.

If you did not change it, sign in and change your password, or ask your administrator for help.
`,
    html: `<p>Hello {{username}},</p>
<p>The e-mail address of your account was changed, so messages about it no longer come here, and
password reset links sent here before no longer work.</p>
<p>If you did not change it, sign in and change your password, or ask your administrator for help.</p>
`,
  },
  email_taken: {
    subject: 'Someone tried to use your e-mail address',
    text: `Hello {{username}},

Someone signed in to another account asked to change its e-mail address to this one. This address
belongs to your account, {{username}}, so nothing was changed.

If that was you, sign in as {{username}} instead, or use another address for the other account.
`,
    html: `<p>Hello {{username}},</p>
<p>Someone signed in to another account asked to change its e-mail address to this one. This address
belongs to your account, {{username}}, so nothing was changed.</p>
<p>If that was you, sign in as {{username}} instead, or use another address for the other account.</p>
`,
  },
}

/** Kinds a MAIL_TEMPLATES_DIR written before they existed may lack: the built-in one is used then. */
const OPTIONAL_KINDS: readonly MailKind[] = ['email_changed', 'email_taken']

/** The built-in templates, or those of `dir` (all of them: a missing file is a start-up error). */
export function loadMailTemplates(dir: string | undefined): Record<MailKind, MailTemplate> {
  if (!dir) return BUILT_IN
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), 'utf8')
    } catch (error) {
      throw new ConfigError(
        `MAIL_TEMPLATES_DIR: cannot read ${name} in ${dir}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      )
    }
  }
  const load = (kind: MailKind): MailTemplate => {
    const [first = '', ...rest] = read(`${kind}.txt`).split('\n')
    const subject = /^Subject:\s*(.+)$/i.exec(first)?.[1]?.trim()
    if (!subject)
      throw new ConfigError(`MAIL_TEMPLATES_DIR: ${kind}.txt must start with a 'Subject: ...' line`)
    return { subject, text: rest.join('\n').replace(/^\n/, ''), html: read(`${kind}.html`) }
  }
  const loadOptional = (kind: MailKind): MailTemplate =>
    existsSync(join(dir, `${kind}.txt`)) || existsSync(join(dir, `${kind}.html`))
      ? load(kind)
      : BUILT_IN[kind]
  const templates = { reset: load('reset'), verify: load('verify') } as Record<
    MailKind,
    MailTemplate
  >
  for (const kind of OPTIONAL_KINDS) templates[kind] = loadOptional(kind)
  return templates
}

export function renderMail(template: MailTemplate, values: MailValues): MailTemplate {
  const fill = (text: string, escape: (value: string) => string) =>
    text.replace(/\{\{\s*(username|link|validFor)\s*\}\}/g, (_, name: keyof MailValues) =>
      escape(values[name]),
    )
  const plain = (value: string) => value
  return {
    // A subject is one header line, whatever a username holds.
    subject: fill(template.subject, (value) => value.replace(/[\r\n]+/g, ' ')),
    text: fill(template.text, plain),
    html: fill(template.html, escapeHtml),
  }
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  )
}
