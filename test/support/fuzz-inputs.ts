// Hostile inputs for the fuzz tests: strings that break parsers (bad percent-escapes, NUL and control
// characters, lone surrogates, huge runs), form bodies in every encoding a client might botch,
// content types, Authorization headers, and mutations of valid requests.
import fc from 'fast-check'

export const FORM = 'application/x-www-form-urlencoded'

/** Strings that have broken form parsers, routers, SQL or templates somewhere. */
const NASTY = [
  '',
  ' ',
  '%',
  '%%',
  '%z',
  '%zz',
  '%0',
  '%E2%82',
  '%C0%AF',
  '%00',
  '%FF',
  '\0',
  '\u0001',
  '\u007f',
  '\u0085',
  '\r\n',
  '\n',
  '\r',
  '\t',
  '+',
  '++',
  '%2B',
  '&',
  '=',
  '&&==',
  ';',
  '%26',
  '%3D',
  'é',
  'e\u0301',
  '\u200b',
  '\ufeff',
  '\ud800',
  '\udfff',
  '😀',
  'ｇａｔｅ',
  'İ',
  'ß',
  'null',
  'undefined',
  '[]',
  '{}',
  '[object Object]',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '../../etc/passwd',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'A'.repeat(300),
  '\\u0000',
  'Bearer',
  'alice',
  'ALICE',
  ' alice',
]

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 30 }),
  fc
    .array(fc.constantFrom(...NASTY), { minLength: 2, maxLength: 5 })
    .map((parts) => parts.join('')),
)

const TOKEN_FIELDS = [
  'grant_type',
  'username',
  'password',
  'refresh_token',
  'scope',
  'client_id',
  'client_secret',
  'token',
  'token_type_hint',
]

export const fieldName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TOKEN_FIELDS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'USERNAME',
      'username ',
      'user%6Eame',
      'password[]',
      'a[b]',
    ),
  },
  { weight: 1, arbitrary: nastyString },
)

const GRANT_TYPES = [
  'password',
  'refresh_token',
  'PASSWORD',
  'Password',
  'client_credentials',
  'authorization_code',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
]

export const fieldValue: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...GRANT_TYPES,
      'me',
      'items',
      'me items',
      'admin',
      'me  items',
      ' me',
    ),
  },
  { weight: 3, arbitrary: nastyString },
)

export type FormPairs = Array<[string, string]>

/** How a client turns pairs into a body: correctly, not at all, with `+` for spaces, or a mix. */
const encoding = fc.constantFrom('proper', 'raw', 'plus', 'mixed', 'double')

function encodePair([name, value]: [string, string], how: string, coin: boolean): string {
  const proper = (text: string) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'))
  switch (how) {
    case 'raw':
      return `${name}=${value}`
    case 'plus':
      return `${proper(name)}=${proper(value).replaceAll('%20', '+')}`
    case 'double':
      return `${proper(proper(name))}=${proper(proper(value))}`
    case 'mixed':
      return coin ? `${name}=${value}` : `${proper(name)}=${proper(value)}`
    default:
      return `${proper(name)}=${proper(value)}`
  }
}

/** A form body built from `pairs` (repeated keys included) with random encoding and separators. */
export function formBody(pairs: fc.Arbitrary<FormPairs>): fc.Arbitrary<string> {
  return fc
    .record({
      pairs,
      how: fc.oneof(
        { weight: 3, arbitrary: fc.constant('proper') },
        { weight: 2, arbitrary: encoding },
      ),
      coins: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      separator: fc.constantFrom('&', '&', '&', '&', '&', ';', '&&', '&amp;'),
      prefix: fc.constantFrom('', '', '', '', '&', '?', '='),
      suffix: fc.constantFrom('', '', '', '', '&', '=', '%', '&=&'),
    })
    .map(
      ({ pairs, how, coins, separator, prefix, suffix }) =>
        prefix +
        pairs
          .map((pair, index) => encodePair(pair, how, coins[index % coins.length]!))
          .join(separator) +
        suffix,
    )
}

/** Usernames near the real ones (alice, legacy, dora exist in the fuzz apps) and far from them. */
export const username: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'alice',
    'legacy',
    'dora',
    'nobody',
    'ALICE',
    'alice ',
    ' alice',
    'alice\0',
    'alic',
    'alice%00',
    'ａｌｉｃｅ',
  ),
  nastyString,
)

/** Random pairs: mostly known fields, sometimes repeated. */
const randomPairs: fc.Arbitrary<FormPairs> = fc.array(fc.tuple(fieldName, fieldValue), {
  maxLength: 7,
})

/**
 * Pairs shaped like a real token request (each field at most once, mostly present), so that many
 * inputs get past the parser and the schema to the password check and the refresh-token lookup.
 */
const requestLikePairs: fc.Arbitrary<FormPairs> = fc
  .record({
    grant_type: fc.option(
      fc.oneof(fc.constantFrom('password', 'password', 'refresh_token'), fieldValue),
      { freq: 2, nil: undefined },
    ),
    username: fc.option(username, { freq: 6, nil: undefined }),
    password: fc.option(
      nastyString.filter((value) => value !== ''),
      { freq: 6, nil: undefined },
    ),
    refresh_token: fc.option(fc.oneof(nastyString, fc.string({ minLength: 43, maxLength: 43 })), {
      freq: 3,
      nil: undefined,
    }),
    scope: fc.option(fieldValue, { freq: 2, nil: undefined }),
    client_id: fc.option(nastyString, { freq: 1, nil: undefined }),
    extra: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 1 }),
  })
  .map(({ extra, ...fields }) => [
    ...Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ...extra,
  ])

/** Pairs that look like a token request, or only a little. */
export const tokenFormPairs: fc.Arbitrary<FormPairs> = fc.oneof(
  { weight: 3, arbitrary: requestLikePairs },
  { weight: 1, arbitrary: randomPairs },
)

/** Content types a client may send, right or wrong, with charset parameters and garbage. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      FORM,
      `${FORM}; charset=utf-8`,
      `${FORM}; charset=UTF-8`,
      `${FORM};charset="utf-8"`,
      `${FORM}; charset=us-ascii`,
      `${FORM}; charset=iso-8859-1`,
      `${FORM}; charset=utf-16`,
      `${FORM}; charset=`,
      `${FORM}; charset`,
      `${FORM};;`,
      `${FORM}; boundary=x`,
      'APPLICATION/X-WWW-FORM-URLENCODED',
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'multipart/form-data',
      'multipart/form-data; boundary=----fuzz',
      'text/plain',
      'text/html',
      '*/*',
      '',
      ' ',
      ';',
      'application/',
      '/',
      `${FORM}, application/json`,
    ),
  },
  { weight: 1, arbitrary: nastyString },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(FORM, 'application/json'), nastyString)
      .map(([type, parameter]) => `${type}; ${parameter}`),
  },
)

/** A multipart body, which no Gatehouse endpoint accepts. */
export const multipartBody: fc.Arbitrary<string> = fc
  .array(fc.tuple(fieldName, fieldValue), { maxLength: 4 })
  .map(
    (parts) =>
      parts
        .map(
          ([name, value]) =>
            `------fuzz\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
        )
        .join('') + '------fuzz--\r\n',
  )

/** Any body at all: forms, JSON, multipart, binary junk. */
export const anyBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: formBody(tokenFormPairs) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: multipartBody },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant('') },
)

/** One edit of a string: insert, delete, replace, duplicate, truncate, percent-encode or case-flip. */
export function mutation(): fc.Arbitrary<(text: string) => string> {
  return fc.oneof(
    fc.tuple(fc.nat(), nastyString).map(
      ([at, insert]) =>
        (text: string) =>
          splice(text, at % (text.length + 1), 0, insert),
    ),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })).map(
      ([at, count]) =>
        (text: string) =>
          splice(text, at % (text.length + 1), count, ''),
    ),
    fc.tuple(fc.nat(), nastyString).map(
      ([at, insert]) =>
        (text: string) =>
          splice(text, at % (text.length + 1), 1, insert),
    ),
    fc.tuple(fc.nat(), fc.nat()).map(([from, length]) => (text: string) => {
      const start = from % (text.length + 1)
      return text + '&' + text.slice(start, start + (length % 40))
    }),
    fc.nat().map((at) => (text: string) => text.slice(0, at % (text.length + 1))),
    fc.nat().map((at) => (text: string) => {
      const index = at % Math.max(1, text.length)
      const code = text.charCodeAt(index)
      return Number.isNaN(code)
        ? text
        : splice(text, index, 1, `%${code.toString(16).padStart(2, '0')}`)
    }),
    fc.constant((text: string) => text.toUpperCase()),
    fc.constant((text: string) => text.replaceAll('&', ';')),
    fc.constant((text: string) => text.replaceAll('=', '%3D')),
    fc.constant((text: string) => `${text}&${text}`),
  )
}

function splice(text: string, at: number, remove: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at + remove)
}

/** One to three mutations applied in turn. */
export const mutations: fc.Arbitrary<(text: string) => string> = fc
  .array(mutation(), { minLength: 1, maxLength: 3 })
  .map((edits) => (text: string) => edits.reduce((current, edit) => edit(current), text))

const base64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** Tokens that look like JWTs (three base64url segments of random JSON) but were never issued. */
export const jwtShaped: fc.Arbitrary<string> = fc
  .tuple(
    fc.jsonValue({ maxDepth: 2 }),
    fc.jsonValue({ maxDepth: 2 }),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('', '.', '..', '.x'),
  )
  .map(
    ([header, payload, signature, extra]) =>
      `${base64url(header)}.${base64url(payload)}.${base64url(signature)}${extra}`,
  )

/** Authorization header values: random schemes, separators and tokens with unicode and control characters. */
export const authorizationHeader: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(
        'Bearer',
        'bearer',
        'BEARER',
        'Basic',
        'Digest',
        'Token',
        'JWT',
        '',
        'Bearer:',
        'Bear er',
      ),
      nastyString,
    ),
    fc.constantFrom(' ', ' ', '  ', '\t', '', ',', ' \r\n '),
    fc.oneof(
      jwtShaped,
      nastyString,
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom('', '.', '..', 'a.b.c', 'null', 'A'.repeat(5000)),
    ),
  )
  .map(([scheme, separator, token]) => `${scheme}${separator}${token}`)
