// Gatehouse's login page: signs in with the OAuth2 password flow, shows the profile, keeps the access
// token fresh and signs out. Plain ES module, no framework, no build step: the reference for frontends.
//
// Where the tokens live, the decision worth copying:
// - The access token only in a variable: nothing persists it, and a reload loses it.
// - The refresh token in sessionStorage: a reload in this tab keeps the session (the page refreshes on
//   load), closing the tab ends it. Not localStorage: it outlives the tab and every tab shares it, so
//   tabs would race on a single-use token (Gatehouse then ends the session as a suspected theft). Not a
//   cookie: Gatehouse takes tokens in headers and forms only, and a cookie is sent where you did not ask.
//   "Duplicate tab" copies sessionStorage, so that race can still happen: it signs both copies out.
// Script on the page can still read sessionStorage; the defence is the server's Content-Security-Policy
// (scripts from this origin only) and never putting API data into innerHTML.

// Gatehouse's base URL. Same origin here; a frontend on another origin writes Gatehouse's URL
// (e.g. 'https://auth.example.com/') and must be listed in Gatehouse's CORS_ORIGINS.
const API = new URL('./', document.baseURI)
const REFRESH_TOKEN_KEY = 'gatehouse.refresh_token'
// Refresh when 80% of the access token's lifetime has passed: a 30-minute token at 24 minutes, a
// 1-minute token at 48 seconds. Early enough for a slow network, late enough to refresh rarely.
const REFRESH_AT = 0.8
// setTimeout fires at once beyond this (about 24.8 days), which would refresh in a loop.
const MAX_TIMER_MS = 2 ** 31 - 1

let accessToken = null
let refreshTimer
// The refresh in flight, shared: a refresh token is single use. Gatehouse answers a repeat within
// REFRESH_REUSE_GRACE_SECONDS with the same new token, so a retry is safe, but one request is enough.
let refreshing = null

const element = (id) => document.getElementById(id)

class ApiError extends Error {
  constructor(message, status, body = null) {
    super(message)
    this.status = status
    this.body = body
  }
}

/** Calls Gatehouse; resolves with the JSON answer, or rejects with an ApiError carrying its `detail`. */
async function call(path, init = {}) {
  const response = await fetch(new URL(path, API), init)
  const json = response.headers.get('Content-Type')?.includes('json') ? await response.json() : null
  if (response.ok) return json
  let message = json?.detail ?? `${response.status} ${response.statusText}`
  // 429 (too many failed logins) and 503 (busy) say how long to wait.
  const wait = response.headers.get('Retry-After')
  if (wait) message += ` (retry in ${wait} s)`
  throw new ApiError(message, response.status, json)
}

/** POST as a form: /token and /revoke take application/x-www-form-urlencoded, never JSON. */
const postForm = (path, fields) => call(path, { method: 'POST', body: new URLSearchParams(fields) })

/** Keeps a /token answer: the access token in memory, the refresh token for this tab, and a timer. */
function keep(tokens) {
  accessToken = tokens.access_token
  sessionStorage.setItem(REFRESH_TOKEN_KEY, tokens.refresh_token)
  clearTimeout(refreshTimer)
  const delay = Math.min(tokens.expires_in * REFRESH_AT * 1000, MAX_TIMER_MS)
  refreshTimer = setTimeout(() => refresh().catch(sessionEnded), delay)
}

function forget() {
  accessToken = null
  sessionStorage.removeItem(REFRESH_TOKEN_KEY)
  clearTimeout(refreshTimer)
}

/** Trades the refresh token for new tokens; concurrent callers share one request. */
function refresh() {
  refreshing ??= postForm('token', {
    grant_type: 'refresh_token',
    refresh_token: sessionStorage.getItem(REFRESH_TOKEN_KEY) ?? '',
  })
    .then(keep)
    .finally(() => (refreshing = null))
  return refreshing
}

/** GET with the access token. After a 401 (it expired while the computer slept) refresh once and retry. */
async function getWithToken(path) {
  const get = () => call(path, { headers: { Authorization: `Bearer ${accessToken}` } })
  try {
    return await get()
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error
    await refresh()
    return get()
  }
}

/**
 * Shows one view of the card: 'loading', or the element whose data-view names it ('sign-in',
 * 'profile'; more forms, such as a code for a second factor, become more views), with an optional
 * error for the live region.
 */
function show(view, message = '') {
  element('status').textContent = view === 'loading' ? 'Signing you in…' : ''
  for (const section of document.querySelectorAll('[data-view]'))
    section.hidden = section.dataset.view !== view
  clearFieldErrors()
  element('error').textContent = message
}

/** An error beside its field: announced with the field (aria-describedby), marked invalid. */
function setFieldError(input, message) {
  input.setAttribute('aria-invalid', 'true')
  element(`${input.id}-error`).textContent = message
}

function clearFieldErrors() {
  for (const input of document.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid')
    element(`${input.id}-error`).textContent = ''
  }
}

/** The form's own checks, before anything is sent: an empty field gets its error beside it. */
function checkFields(form) {
  clearFieldErrors()
  const missing = [
    [form.username, 'Enter your username.'],
    [form.password, 'Enter your password.'],
  ].filter(([input]) => input.value === '')
  for (const [input, message] of missing) setFieldError(input, message)
  missing[0]?.[0].focus()
  return missing.length === 0
}

async function showProfile() {
  const user = await getWithToken('users/me/')
  // textContent, never innerHTML: a full name is user input and must not become markup.
  element('profile-username').textContent = user.username
  element('profile-email').textContent = user.email ?? '—'
  element('profile-full-name').textContent = user.full_name ?? '—'
  show('profile')
  element('profile-heading').focus()
  await showMfaStatus()
}

/**
 * Any failed refresh ends the session here, a network error too: the request may have reached
 * Gatehouse and spent the token, and presenting it again would count as reuse.
 */
function sessionEnded(error) {
  forget()
  show(
    'sign-in',
    error instanceof ApiError ? `Please sign in again: ${error.message}` : 'Please sign in again.',
  )
}

element('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = event.currentTarget
  element('error').textContent = ''
  if (!checkFields(form)) return
  const button = form.querySelector('button')
  button.disabled = true
  try {
    keep(
      await postForm('token', {
        grant_type: 'password',
        username: form.username.value,
        password: form.password.value,
      }),
    )
    form.reset() // the password does not stay in the page
    await showProfile()
  } catch (error) {
    forget()
    // The password was right and a second factor is due: Auth0's mfa_required, with an mfa_token.
    if (error instanceof ApiError && error.body?.error === 'mfa_required') {
      form.reset()
      askSecondFactor(error.body.mfa_token)
      return
    }
    show(
      'sign-in',
      error instanceof ApiError ? error.message : 'Gatehouse cannot be reached; try again.',
    )
    form.password.focus()
  } finally {
    button.disabled = false
  }
})

// A field's error goes once it is being corrected.
element('sign-in').addEventListener('input', (event) => {
  if (event.target.getAttribute('aria-invalid') !== 'true') return
  event.target.removeAttribute('aria-invalid')
  element(`${event.target.id}-error`).textContent = ''
})

element('sign-out').addEventListener('click', async () => {
  clearTimeout(refreshTimer)
  await refreshing?.catch(() => {}) // else a refresh in flight would store a new token after we forget
  const refreshToken = sessionStorage.getItem(REFRESH_TOKEN_KEY)
  let message = ''
  try {
    // Revoking the refresh token ends its whole session on the server, access tokens included.
    if (refreshToken)
      await postForm('revoke', { token: refreshToken, token_type_hint: 'refresh_token' })
  } catch {
    message =
      'Signed out in this tab, but Gatehouse could not be told; the session ends when it expires.'
  }
  forget()
  show('sign-in', message)
  element('username').focus()
})

// Second factors: the code step of a sign-in, and enrolment for the signed-in user.

let mfaToken = null
let useRecoveryCode = false

function askSecondFactor(token, message = '') {
  mfaToken = token
  setRecoveryMode(false)
  show('second-factor', message)
  element('otp').focus()
}

function setRecoveryMode(on) {
  useRecoveryCode = on
  const input = element('otp')
  input.value = ''
  input.inputMode = on ? 'text' : 'numeric'
  input.autocomplete = on ? 'off' : 'one-time-code'
  element('otp-label').textContent = on ? 'Recovery code' : 'Code from your authenticator app'
  element('use-recovery-code').textContent = on
    ? 'Use the authenticator app instead'
    : 'Use a recovery code instead'
}

element('use-recovery-code').addEventListener('click', () => {
  setRecoveryMode(!useRecoveryCode)
  element('otp').focus()
})

element('second-factor-back').addEventListener('click', () => {
  mfaToken = null
  show('sign-in')
  element('username').focus()
})

element('second-factor').addEventListener('submit', async (event) => {
  event.preventDefault()
  const input = element('otp')
  clearFieldErrors()
  if (input.value.trim() === '') {
    setFieldError(input, useRecoveryCode ? 'Enter a recovery code.' : 'Enter the code.')
    input.focus()
    return
  }
  const button = event.currentTarget.querySelector('button[type=submit]')
  button.disabled = true
  try {
    keep(
      await postForm(
        'token',
        useRecoveryCode
          ? {
              grant_type: 'http://auth0.com/oauth/grant-type/mfa-recovery-code',
              mfa_token: mfaToken,
              recovery_code: input.value.trim(),
            }
          : {
              grant_type: 'http://auth0.com/oauth/grant-type/mfa-otp',
              mfa_token: mfaToken,
              otp: input.value.trim(),
            },
      ),
    )
    mfaToken = null
    input.value = ''
    await showProfile()
  } catch (error) {
    element('error').textContent =
      error instanceof ApiError ? error.message : 'Gatehouse cannot be reached; try again.'
    input.select()
    input.focus()
  } finally {
    button.disabled = false
  }
})

/** The profile's second-factor line and the button that fits it. */
async function showMfaStatus() {
  let status
  try {
    status = await getWithToken('users/me/mfa')
  } catch {
    return
  }
  const on = status.totp === 'confirmed'
  element('mfa-status').textContent = on
    ? `Two-step verification is on (${status.recovery_codes_left} recovery codes left).`
    : 'Two-step verification is off.'
  element('mfa-enrol').hidden = on
  element('mfa-remove-start').hidden = !on
}

/** POST or DELETE JSON with the access token. */
const sendJson = (method, path, body) =>
  call(path, {
    method,
    // No Content-Type without a body: Fastify refuses an empty JSON body.
    headers:
      body === undefined
        ? { Authorization: `Bearer ${accessToken}` }
        : { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

/**
 * Draws the server's QR code from its path data only: the SVG is parsed as data, never inserted as
 * markup, so nothing in it but shapes reaches the page (and the CSP needs no data: images).
 */
function drawQrCode(svgText, container) {
  const NS = 'http://www.w3.org/2000/svg'
  const source = new DOMParser().parseFromString(svgText, 'image/svg+xml').documentElement
  const svg = document.createElementNS(NS, 'svg')
  svg.setAttribute('viewBox', source.getAttribute('viewBox') ?? '0 0 0 0')
  svg.setAttribute('role', 'img')
  svg.setAttribute('aria-label', 'QR code for your authenticator app')
  for (const path of source.querySelectorAll('path')) {
    const copy = document.createElementNS(NS, 'path')
    for (const name of ['d', 'fill', 'stroke']) {
      const value = path.getAttribute(name)
      if (value !== null) copy.setAttribute(name, value)
    }
    svg.append(copy)
  }
  container.replaceChildren(svg)
}

/**
 * RFC 9470's answer to a sensitive change from a login older than RECENT_AUTH_SECONDS (`max_age`):
 * said in words, since the page keeps no password to send as current_password.
 */
const messageOf = (error) =>
  error.body?.error === 'insufficient_user_authentication'
    ? 'For your security, this needs a recent sign-in: sign out, sign in again, and retry.'
    : error.message

element('mfa-enrol').addEventListener('click', async () => {
  try {
    const enrolment = await sendJson('POST', 'users/me/mfa/totp')
    drawQrCode(enrolment.qr_svg, element('enrol-qr'))
    element('enrol-secret').textContent = enrolment.secret
    show('enrol')
    element('enrol-code').focus()
  } catch (error) {
    element('error').textContent = messageOf(error)
  }
})

element('enrol-cancel').addEventListener('click', () => showProfile())

element('enrol-confirm').addEventListener('submit', async (event) => {
  event.preventDefault()
  const input = element('enrol-code')
  clearFieldErrors()
  if (input.value.trim() === '') {
    setFieldError(input, 'Enter the code from the app.')
    input.focus()
    return
  }
  try {
    const { recovery_codes: codes } = await sendJson('POST', 'users/me/mfa/totp/confirm', {
      code: input.value.trim(),
    })
    input.value = ''
    element('recovery-codes').replaceChildren(
      ...codes.map((code) => {
        const item = document.createElement('li')
        item.textContent = code
        return item
      }),
    )
    show('recovery-codes')
    element('recovery-heading').focus()
  } catch (error) {
    setFieldError(input, messageOf(error))
    input.focus()
  }
})

element('recovery-done').addEventListener('click', () => {
  element('recovery-codes').replaceChildren()
  showProfile()
})

element('mfa-remove-start').addEventListener('click', () => {
  show('mfa-remove')
  element('remove-password').focus()
})

element('mfa-remove-cancel').addEventListener('click', () => showProfile())

element('mfa-remove').addEventListener('submit', async (event) => {
  event.preventDefault()
  const input = element('remove-password')
  const codeInput = element('remove-code')
  clearFieldErrors()
  if (input.value === '') {
    setFieldError(input, 'Enter your password.')
    input.focus()
    return
  }
  if (codeInput.value.trim() === '') {
    setFieldError(codeInput, 'Enter a code from your app, or a recovery code.')
    codeInput.focus()
    return
  }
  try {
    // The password again, and the factor itself: a token alone must not remove it.
    await sendJson('DELETE', 'users/me/mfa/totp', {
      current_password: input.value,
      code: codeInput.value.trim(),
    })
    input.value = ''
    codeInput.value = ''
    await showProfile()
  } catch (error) {
    // A wrong code is the code's fault; anything else (the password, a throttle) the password's.
    const field = error.body?.detail?.includes('code') ? codeInput : input
    setFieldError(field, error.message)
    field.focus()
  }
})

// Account recovery: "Forgot your password?", and the pages the mailed links open.
element('forgot-link').addEventListener('click', (event) => {
  event.preventDefault()
  show('forgot')
  element('forgot-account').focus()
})
for (const link of document.querySelectorAll('.back-to-sign-in'))
  link.addEventListener('click', (event) => {
    event.preventDefault()
    history.replaceState(null, '', API.pathname)
    show('sign-in')
    element('username').focus()
  })

element('forgot').addEventListener('submit', async (event) => {
  event.preventDefault()
  const input = event.currentTarget.account
  clearFieldErrors()
  if (input.value === '') return setFieldError(input, 'Enter your e-mail address or username.')
  const account = input.value.includes('@') ? { email: input.value } : { username: input.value }
  try {
    const answer = await call('password-reset', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(account),
    })
    show('sign-in')
    element('status').textContent = answer.detail
  } catch (error) {
    show('forgot', error instanceof ApiError ? error.message : 'Gatehouse cannot be reached.')
  }
})

// The token of the link the page was opened from, taken out of the address bar (and so out of the
// history and of any Referer) as soon as it is read.
function takeLinkToken() {
  const token = new URLSearchParams(location.search).get('token') ?? ''
  history.replaceState(null, '', location.pathname)
  return token
}

const postJson = (path, body) =>
  call(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })

function openResetLink() {
  const token = takeLinkToken()
  show('reset')
  element('new-password').focus()
  element('reset').addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = event.currentTarget.new_password
    clearFieldErrors()
    if (input.value === '') return setFieldError(input, 'Enter a new password.')
    try {
      await postJson('password-reset/confirm', { token, new_password: input.value })
      input.value = ''
      history.replaceState(null, '', API.pathname)
      show('sign-in')
      element('status').textContent = 'Your new password is set: sign in with it.'
      element('username').focus()
    } catch (error) {
      show('reset')
      setFieldError(
        input,
        error instanceof ApiError ? error.message : 'Gatehouse cannot be reached.',
      )
    }
  })
}

async function openVerifyLink() {
  const token = takeLinkToken()
  show('loading')
  let message = 'Your e-mail address is verified.'
  try {
    await postJson('verify-email', { token })
  } catch (error) {
    message = error instanceof ApiError ? error.message : 'Gatehouse cannot be reached.'
  }
  element('verified-message').textContent = message
  show('verified')
  element('verified-heading').focus()
}

const linkPage = location.pathname.split('/').pop()
if (linkPage === 'reset-password') openResetLink()
else if (linkPage === 'verify-email') openVerifyLink()
// A stored refresh token means this tab was signed in before a reload: refresh, then show the profile.
else if (sessionStorage.getItem(REFRESH_TOKEN_KEY)) {
  show('loading')
  refresh().then(showProfile).catch(sessionEnded)
} else {
  show('sign-in')
}
