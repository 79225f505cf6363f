// Gates for tests that need a real service (PostgreSQL, Redis): in CI (CI=true) a missing service
// fails the run; elsewhere the tests are skipped with a message saying why. (Free ports for servers
// a test starts: server-process.ts.)
import { connect } from 'node:net'

export async function reachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** True when the service answers; false (tests skip) outside CI; throws in CI. */
export async function requireService(name: string, host: string, port: number): Promise<boolean> {
  if (await reachable(host, port)) return true
  if (process.env.CI === 'true')
    throw new Error(`${name} at ${host}:${port} is required in CI but is unreachable`)
  console.warn(`Skipping ${name} tests: nothing answers at ${host}:${port}`)
  return false
}
