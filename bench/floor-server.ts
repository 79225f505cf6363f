// The reference floor: the least a server can do to answer GET /users/me/ for a bearer JWT. Plain
// node:http, an HS256 check with node:crypto, one fixed user; no framework, database or logging.
// Started as a child process by bench/run.ts with FLOOR_SECRET and FLOOR_PORT.
import { createServer } from 'node:http'
import { verifyHs256 } from './hs256.js'

const secret = process.env.FLOOR_SECRET ?? ''
const port = Number(process.env.FLOOR_PORT)
const USER = JSON.stringify({
  username: 'bench-user',
  email: null,
  full_name: null,
  disabled: false,
})
const DENIED = JSON.stringify({ detail: 'Could not validate credentials' })

createServer((request, response) => {
  const header = request.headers.authorization ?? ''
  const subject = header.startsWith('Bearer ') ? verifyHs256(header.slice(7), secret) : undefined
  const ok = subject !== undefined && request.url?.startsWith('/users/me') === true
  response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json; charset=utf-8' })
  response.end(ok ? USER : DENIED)
}).listen(port, '127.0.0.1')
