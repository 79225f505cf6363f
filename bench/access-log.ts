// `npm run bench:access-log`: what request logging costs, alone and short (BENCH_DURATION seconds per
// server, default 6). GET /users/me/ on the floor, Gatehouse with LOG_LEVEL=info and Gatehouse with
// LOG_LEVEL=warn, taking turns in 1 s slices so a shared machine's drift weighs on all three alike.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { signHs256 } from './hs256.js'
import { combineLoads, runLoad, type LoadResult } from './load.js'
import { watchOtherLoad } from './machine-load.js'
import { formatNumber, formatRatio, formatTable } from './report.js'
import { ensureBuilt, startFloor, startGatehouse, type ServerProcess } from './server-process.js'
import { BENCH_PASSWORD, createUsersFixture } from './users-fixture.js'

const SLICE_S = 1
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100

/** CPU seconds a process has used so far, all its threads (libuv's pool, where log writes run, too). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}
const durationS = Number(process.env.BENCH_DURATION || 6)
const print = (text = ''): boolean => process.stdout.write(`${text}\n`)

async function logIn(url: string, username: string): Promise<string> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ username, password: BENCH_PASSWORD }),
  })
  if (response.status !== 200) throw new Error(`login failed with ${response.status}`)
  return ((await response.json()) as { access_token: string }).access_token
}

ensureBuilt()
const otherLoad = watchOtherLoad()
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-log-'))
const servers: ServerProcess[] = []
try {
  const databaseUrl = `sqlite:///${join(dir, 'users.db')}`
  const fixture = await createUsersFixture(databaseUrl, { argon2: 1, bcrypt: 0 })
  const secretKey = randomBytes(32).toString('hex')
  const floor = await startFloor(secretKey)
  const info = await startGatehouse({
    dir,
    databaseUrl,
    secretKey,
    logFile: join(dir, 'info.log'),
  })
  const warn = await startGatehouse({
    dir,
    databaseUrl,
    secretKey,
    logFile: join(dir, 'warn.log'),
    logLevel: 'warn',
  })
  servers.push(floor, info, warn)
  const token = await logIn(info.url, fixture.argon2Users[0]!)
  const floorToken = signHs256(
    { sub: 'bench-user', exp: Math.floor(Date.now() / 1000) + 3600 },
    secretKey,
  )
  const contenders: Array<[string, ServerProcess, string]> = [
    ['floor: node:http + node:crypto HS256', floor, floorToken],
    ['Gatehouse, LOG_LEVEL=info (to a file)', info, token],
    ['Gatehouse, LOG_LEVEL=warn', warn, token],
  ]
  const load = (server: ServerProcess, bearer: string, seconds: number): Promise<LoadResult> =>
    runLoad({
      url: `${server.url}/users/me/`,
      headers: { authorization: `Bearer ${bearer}` },
      connections: 64,
      durationS: seconds,
    })
  for (const [, server, bearer] of contenders) await load(server, bearer, 1)
  const slices = contenders.map((): LoadResult[] => [])
  const cpu = contenders.map(() => 0)
  for (let round = 0; round < Math.max(1, Math.round(durationS / SLICE_S)); round++) {
    for (const [index, [, server, bearer]] of contenders.entries()) {
      const before = cpuSeconds(server.pid)
      slices[index]!.push(await load(server, bearer, SLICE_S))
      cpu[index]! += cpuSeconds(server.pid) - before
    }
  }
  const [floorMe, infoMe, warnMe] = slices.map(combineLoads) as [LoadResult, LoadResult, LoadResult]
  print(
    `GET /users/me/, 64 connections, ${durationS} s per server in ${SLICE_S} s turns; ${availableParallelism()} cores, Node ${process.version}`,
  )
  print(`Floor: ${formatNumber(floorMe.perSecond)} req/s`)
  print(
    formatTable(
      ['server', 'req/s', 'p99 ms', 'vs floor', 'CPU µs/request'],
      contenders.map(([name], index) => {
        const result = [floorMe, infoMe, warnMe][index]!
        return [
          name,
          formatNumber(result.perSecond),
          formatNumber(result.p99Ms),
          formatRatio(result.perSecond / floorMe.perSecond, 3),
          formatNumber((cpu[index]! / result.responses) * 1e6),
        ]
      }),
    ),
  )
  print(
    `info / warn: ${formatRatio(infoMe.perSecond / warnMe.perSecond, 3)} in req/s; the access line costs ${formatNumber((cpu[1]! / infoMe.responses - cpu[2]! / warnMe.responses) * 1e6)} µs of CPU per request`,
  )
} finally {
  for (const server of servers.reverse()) await server.stop()
  rmSync(dir, { recursive: true, force: true })
}
const { otherCores, cores } = otherLoad.stop()
print(`Other processes kept ${formatNumber(otherCores)} of the ${cores} cores busy during the run.`)
