// HS256 JWTs with nothing but node:crypto: what the floor server verifies and the bench signs for it.
// Deliberately minimal (one algorithm, `sub` and `exp` only): the least a correct verifier does.
import { createHmac, timingSafeEqual } from 'node:crypto'

export function signHs256(claims: { sub: string; exp: number }, secret: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`
}

/** The subject of a valid, unexpired token, or undefined. The header's `alg` is never trusted. */
export function verifyHs256(token: string, secret: string): string | undefined {
  const lastDot = token.lastIndexOf('.')
  const firstDot = token.indexOf('.')
  if (firstDot <= 0 || lastDot === firstDot) return undefined
  const expected = createHmac('sha256', secret).update(token.slice(0, lastDot)).digest()
  const given = Buffer.from(token.slice(lastDot + 1), 'base64url')
  // Constant-time, and only on equal lengths, as timingSafeEqual requires.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  try {
    const claims = JSON.parse(
      Buffer.from(token.slice(firstDot + 1, lastDot), 'base64url').toString(),
    ) as { sub?: unknown; exp?: unknown }
    if (
      typeof claims.sub !== 'string' ||
      typeof claims.exp !== 'number' ||
      claims.exp * 1000 <= Date.now()
    )
      return undefined
    return claims.sub
  } catch {
    return undefined
  }
}
