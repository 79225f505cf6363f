// Fuzzing over a real socket, with bytes `inject` cannot send: malformed request lines, control and
// non-ASCII bytes in header values (Authorization included), header injection, conflicting or lying
// lengths, bad chunked encoding, oversized headers. Node's HTTP parser refuses most of these before
// Fastify sees them; the answer must still be a well-formed JSON error, and the server must live on.
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { buildShared, type TestApp } from '../helper.js'
import { createTally, fuzzParameters, fuzzTimeout } from '../support/fuzz.js'
import { anyBody, nastyString } from '../support/fuzz-inputs.js'

let t: TestApp & { close(): Promise<void> }
let port: number

beforeAll(async () => {
  t = await buildShared({
    env: {
      THROTTLE_PAIR_LIMIT: '1000000',
      THROTTLE_USER_LIMIT: '1000000',
      THROTTLE_IP_LIMIT: '1000000',
    },
  })
  await t.addUser({ username: 'alice', password: 'alice-password' })
  await t.app.listen({ host: '127.0.0.1', port: 0 })
  port = (t.app.server.address() as AddressInfo).port
})

afterAll(async () => {
  await t.close()
})

interface RawAnswer {
  status: number | undefined
  headers: Record<string, string>
  body: string
}

/** Sends bytes, half-closes, and reads the first answer until the server closes (or 3 s pass). */
function exchange(request: Buffer): Promise<RawAnswer & { timedOut: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let timedOut = false
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(request))
    const timer = setTimeout(() => {
      timedOut = true
      socket.destroy()
    }, 3_000)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A reset after the answer (the server destroys the socket it refused) is not a failure.
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ ...parseFirstAnswer(Buffer.concat(chunks).toString('latin1')), timedOut })
    })
  })
}

function parseFirstAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]
  if (end === -1 || status === undefined) return { status: undefined, headers: {}, body: text }
  const headers: Record<string, string> = {}
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = text.slice(end + 4)
  if (headers['content-length'] !== undefined)
    body = body.slice(0, Number(headers['content-length']))
  else if (headers['transfer-encoding'] === 'chunked') body = decodeChunked(body)
  return { status: Number(status), headers, body: Buffer.from(body, 'latin1').toString('utf8') }
}

function decodeChunked(text: string): string {
  let body = ''
  let rest = text
  for (;;) {
    const lineEnd = rest.indexOf('\r\n')
    const size = parseInt(rest.slice(0, lineEnd), 16)
    if (lineEnd === -1 || !(size > 0)) return body
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size)
    rest = rest.slice(lineEnd + 4 + size)
  }
}

/** Bytes as a latin1 string: every byte value, including CR, LF, NUL and 0x80-0xFF. */
const rawBytes = fc
  .uint8Array({ maxLength: 40 })
  .map((bytes) => Buffer.from(bytes).toString('latin1'))
const utf8AsLatin1 = (text: string) => Buffer.from(text).toString('latin1')

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'get',
      'FOO',
      'G ET',
      '',
      'GET\0',
      'PRI',
      'CONNECT',
      'TRACE',
      'M-SEARCH',
      'PROPFIND',
    ),
  },
  { weight: 1, arbitrary: rawBytes },
)

const target = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '/healthz',
      '/users/me/',
      '/users/me/items/',
      '/token',
      '/revoke',
      '/logout',
      '/users/me/password',
      '/users/me/sessions/x',
      '/docs',
      '/.well-known/jwks.json',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '*',
      'http://evil.example/healthz',
      '//healthz',
      '/%zz',
      '/a b',
      '/\u2603',
      '/users/me/?a=%',
      'healthz',
      '',
    ),
  },
  { weight: 1, arbitrary: nastyString.map(utf8AsLatin1) },
)

const version = fc.constantFrom(
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/1.1x',
  '',
  'HTTP/0.9',
  'http/1.1',
  'HTTP/1.1 ',
)

const headerLine = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('Bearer', 'bearer', 'Basic', 'Bearer:', ''),
        fc.oneof(rawBytes, nastyString.map(utf8AsLatin1)),
      )
      .map(([scheme, value]) => `Authorization: ${scheme} ${value}`),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'Content-Length: abc',
      'Content-Length: -1',
      'Content-Length: 99999999999999999999',
      'Content-Length: 0',
      'Content-Length: 5, 6',
      'Transfer-Encoding: chunked',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: identity',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
      'Content-Type: application/x-www-form-urlencoded',
      'Content-Type: application/x-www-form-urlencoded; charset=latin1',
      'Content-Type: application/json',
      'Content-Type: multipart/form-data; boundary=x',
      'Content-Encoding: gzip',
      'Expect: 100-continue',
      'Connection: upgrade\r\nUpgrade: websocket',
      'X-Forwarded-For: 1.2.3.4, evil',
      'Host: evil.example',
      ' folded continuation',
      'NoColonAtAll',
      ': empty-name',
      'X-Big: ' + 'a'.repeat(20_000),
      'Cookie: a=b',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom('X-A', 'Authorization', 'Content-Type'), rawBytes), rawBytes)
      .map(([name, value]) => `${name}: ${value}`),
  },
)

const body = fc.oneof(
  fc.constant(''),
  anyBody.map(utf8AsLatin1),
  rawBytes,
  fc.constantFrom('zz\r\nabc\r\n0\r\n\r\n', '5\r\nabc\r\n0\r\n\r\n', '0\r\n\r\n'),
)

/** Mostly well-formed requests with one hostile header value (they reach the app), sometimes chaos. */
const request = fc
  .oneof(
    {
      weight: 1,
      arbitrary: fc.record({
        method: fc.constantFrom('GET', 'POST', 'DELETE'),
        target: fc.constantFrom(
          '/users/me/',
          '/users/me/items/',
          '/logout',
          '/users/me/password',
          '/users/me/sessions/x',
          '/token',
          '/healthz',
        ),
        version: fc.constant('HTTP/1.1'),
        headers: fc.tuple(headerLine).map((line) => [...line]),
        body,
        length: fc.constant('right'),
        newline: fc.constant('\r\n'),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        method,
        target,
        version,
        headers: fc.array(headerLine, { maxLength: 4 }),
        body,
        length: fc.constantFrom('right', 'right', 'none', 'short', 'long'),
        newline: fc.constantFrom('\r\n', '\r\n', '\r\n', '\n'),
      }),
    },
  )
  .map(({ method, target, version, headers, body, length, newline }) => {
    const size = Buffer.byteLength(body, 'latin1')
    const lengthLine = {
      right: [`Content-Length: ${size}`],
      none: [],
      short: [`Content-Length: ${Math.max(0, size - 3)}`],
      long: [`Content-Length: ${size + 10}`],
    }[length]
    const lines = [
      `${method} ${target} ${version}`,
      'Host: localhost',
      ...headers,
      ...(body === '' ? [] : lengthLine),
    ]
    return Buffer.from(lines.join(newline) + newline + newline + body, 'latin1')
  })

describe('requests Node refuses before Fastify sees them', () => {
  it.each([
    [
      'a control character in Authorization',
      'GET /users/me/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\u0001b\r\n\r\n',
      400,
    ],
    ['an unknown method', 'FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    [
      'conflicting lengths',
      'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      400,
    ],
    [
      'headers over the size limit',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
  ])('answers %s with a JSON detail and closes the connection', async (_name, text, status) => {
    const answer = await exchange(Buffer.from(text, 'latin1'))
    expect(answer.status).toBe(status)
    expect(answer.headers['connection']).toBe('close')
    expect(JSON.parse(answer.body)).toEqual({ detail: expect.any(String) as unknown })
  })
})

describe('fuzzing raw HTTP', () => {
  it(
    'answers any bytes with a well-formed answer, never a 5xx, and keeps serving',
    async () => {
      const tally = createTally()
      let silent = 0
      await fc.assert(
        fc.asyncProperty(request, async (bytes) => {
          const answer = await exchange(bytes)
          const context = `${JSON.stringify(bytes.toString('latin1').slice(0, 300))} -> ${answer.status} ${JSON.stringify(answer.headers)} ${answer.body.slice(0, 200)}`
          expect(answer.timedOut, context).toBe(false)
          if (answer.status === undefined) {
            // The connection closed without an answer (e.g. the bytes ended before a request line did).
            silent += 1
            return
          }
          tally.add(answer.status)
          expect(answer.status, context).toBeLessThan(500)
          const head = bytes.toString('latin1').startsWith('HEAD ')
          if (answer.status < 400 || head) return
          expect(answer.headers['content-type'], context).toMatch(/^application\/json/)
          expect(JSON.parse(answer.body), context).toEqual(
            expect.objectContaining({ detail: expect.any(String) as unknown }),
          )
        }),
        fuzzParameters(300),
      )
      // Both kinds of answer happened: refusals by Node's parser and answers from the app's routes.
      expect(tally.count(400), `${String(tally)}, ${silent} silent`).toBeGreaterThan(30)
      expect(
        tally.count(200, 499) - tally.count(400),
        `${String(tally)}, ${silent} silent`,
      ).toBeGreaterThan(30)
      const health = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(health.status).toBe(200)
    },
    fuzzTimeout(300, 20),
  )
})
