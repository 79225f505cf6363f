// `npm run bench`: Gatehouse under load beside a bare node:http "floor" server, on this machine, in one
// run of about two minutes (BENCH_DURATION=<seconds> sets the length of each scenario, default 10).
// Prints the machine's floor rate first (figures from different machines compare as ratios of it), then
// aligned tables with the figures, ratios and targets. `-- --users N` runs bench/many-users.ts;
// `npm run bench:postgres` (BENCH_DATABASE_URL=postgresql://...) runs it against PostgreSQL instead of SQLite.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { verify as argon2Verify } from '@node-rs/argon2'
import { verify as bcryptVerify } from '@node-rs/bcrypt'
import type autocannon from 'autocannon'
import { signHs256 } from './hs256.js'
import { combineLoads, ratePerSecond, runLoad, type LoadResult } from './load.js'
import { waitUntilIdle, waitUntilQuiet, watchOtherLoad } from './machine-load.js'
import { runManyUsers } from './many-users.js'
import { peakRssMb, rssMb, sampleRss, type RssTrace } from './memory.js'
import { formatNumber, formatRatio, formatStatuses, formatTable } from './report.js'
import { ensureBuilt, startFloor, startGatehouse, type ServerProcess } from './server-process.js'
import { BENCH_PASSWORD, createUsersFixture } from './users-fixture.js'
import { benchDatabase } from './database.js'
import { benchResourceServer, formatResourceServerLine } from './resource-server.js'

const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' }
/** Length of one turn of a server in scenario 1. */
const ME_SLICE_S = 2
/** Connections of the login flood: more than the hashing queue holds (HASH_CONCURRENCY + HASH_QUEUE_MAX = 66 here). */
const FLOOD_CONNECTIONS = 256
/** Growth from the first half of the flood to the second still called flat (GC alone moves RSS this much). */
const FLAT_MEMORY_MB = 10

/** The same on SQLite and PostgreSQL (issue #14). */
const TARGETS = {
  meVersusFloor: 0.7,
  p99UnderLoginsVersusIdle: 2,
  bcryptLoginsVersusOneCore: 1.7,
  argon2LoginVersusOneVerify: 2,
  /** A correct argon2id login beside bcrypt hashes ÷ a bcrypt-12 login (issue #26: only failures wait). */
  argon2LoginVersusBcryptLogin: 0.15,
  peakRssMb: 150,
}

/**
 * Keycloak's sizing guide, per vCPU: password logins with argon2 (5 iterations, 7 MiB) and token
 * refreshes. Gatehouse is measured per core with argon2id at OWASP's parameters (19 MiB, 2 iterations).
 */
const KEYCLOAK_PER_VCPU = { logins: 15, refreshes: 120 }
/** Clients refreshing at once in the refresh scenario, each with its own token family. */
const REFRESH_CLIENTS = 8

function readDuration(): number {
  const raw = process.env.BENCH_DURATION
  if (raw === undefined || raw === '') return 10
  const seconds = Number(raw)
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600)
    throw new Error(`BENCH_DURATION must be seconds from 1 to 600; got '${raw}'`)
  return seconds
}

const say = (line: string): boolean => process.stderr.write(`bench: ${line}\n`)
const print = (text = ''): boolean => process.stdout.write(`${text}\n`)

/** A POST /token as the next user of the list each time (shared by all connections). */
function loginsAs(usernames: string[]): {
  setupRequest: (request: autocannon.RawRequest) => autocannon.RawRequest
  next: () => number
} {
  let next = 0
  return {
    next: () => next,
    setupRequest(request) {
      const username = usernames[next++ % usernames.length]!
      return {
        ...request,
        method: 'POST',
        headers: FORM_HEADERS,
        body: new URLSearchParams({ username, password: BENCH_PASSWORD }).toString(),
      }
    },
  }
}

async function logIn(url: string, username: string): Promise<string> {
  return (await logInForTokens(url, username)).access_token
}

async function logInForTokens(
  url: string,
  username: string,
): Promise<{ access_token: string; refresh_token: string }> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ username, password: BENCH_PASSWORD }),
  })
  if (response.status !== 200)
    throw new Error(`login of ${username} failed with ${response.status}`)
  return (await response.json()) as { access_token: string; refresh_token: string }
}

/** Median milliseconds of one argon2id verification, one at a time, in the harness. */
async function measureArgon2VerifyMs(hash: string, rounds: number): Promise<number> {
  const samples: number[] = []
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    if (!(await argon2Verify(hash, BENCH_PASSWORD)))
      throw new Error('the bench argon2id hash does not verify')
    samples.push(performance.now() - started)
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
}

/** Refreshes per second: REFRESH_CLIENTS loops, each rotating its own refresh token for `seconds`. */
async function measureRefreshRate(
  url: string,
  refreshTokens: string[],
  seconds: number,
): Promise<number> {
  const deadline = performance.now() + seconds * 1000
  let refreshed = 0
  await Promise.all(
    refreshTokens.map(async (first) => {
      let refreshToken = first
      while (performance.now() < deadline) {
        const response = await fetch(`${url}/token`, {
          method: 'POST',
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
        })
        if (response.status !== 200) throw new Error(`refresh failed with ${response.status}`)
        refreshToken = ((await response.json()) as { refresh_token: string }).refresh_token
        refreshed++
      }
    }),
  )
  return refreshed / seconds
}

/** Verifications per second of one bcrypt-12 hash, one at a time: what one core can do. */
async function measureBcryptVerifyRate(hash: string, seconds: number): Promise<number> {
  const started = performance.now()
  let verified = 0
  while (performance.now() - started < seconds * 1000) {
    if (!(await bcryptVerify(BENCH_PASSWORD, hash)))
      throw new Error('the bench bcrypt hash does not verify')
    verified++
  }
  return verified / ((performance.now() - started) / 1000)
}

async function withMemory<T>(server: ServerProcess, run: () => Promise<T>): Promise<[T, RssTrace]> {
  const sampler = sampleRss(server.pid)
  try {
    const result = await run()
    return [result, sampler.stop()]
  } catch (error) {
    sampler.stop()
    throw error
  }
}

const ms = (value: number): string => formatNumber(value)

async function main(): Promise<void> {
  const usersArgument = process.argv.indexOf('--users')
  const durationS = readDuration()
  ensureBuilt()
  if (usersArgument !== -1) {
    await runManyUsers(Number(process.argv[usersArgument + 1]), durationS)
    return
  }
  const warmupS = Math.min(2, durationS / 5)
  const floodS = Math.min(5, durationS)
  const otherLoad = watchOtherLoad()
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'))
  const servers: ServerProcess[] = []
  const cleanups: Array<() => Promise<void>> = []
  try {
    say('creating users (one argon2id hash, one bcrypt-12 hash, shared)')
    const database = await benchDatabase(dir)
    cleanups.push(() => database.drop())
    const databaseUrl = database.url
    // Enough bcrypt users for every login of scenarios 2 and 3, at well over the rate two cores allow.
    const fixture = await createUsersFixture(databaseUrl, {
      argon2: 1_000,
      bcrypt: Math.max(500, Math.ceil(durationS * 40)),
    })

    const secretKey = randomBytes(32).toString('hex')
    say('starting Gatehouse (dist/, LOG_LEVEL=info to a file) and the floor server')
    const gatehouse = await startGatehouse({
      dir,
      databaseUrl,
      secretKey,
      logFile: join(dir, 'gatehouse.log'),
    })
    servers.push(gatehouse)
    const floor = await startFloor(secretKey)
    servers.push(floor)
    const memory: Array<[string, RssTrace]> = []
    const floorToken = signHs256(
      { sub: 'bench-user', exp: Math.floor(Date.now() / 1000) + 3600 },
      secretKey,
    )
    // The machine's own rate first: every figure below is best read as a ratio of it.
    const floorAlone = await runLoad({
      url: `${floor.url}/users/me/`,
      headers: { authorization: `Bearer ${floorToken}` },
      connections: 64,
      durationS: Math.min(3, durationS),
    })
    print(
      `Floor of this machine (bare node:http answering GET /users/me/, 64 connections, ${Math.min(3, durationS)} s): ${formatNumber(floorAlone.perSecond)} req/s`,
    )

    print(
      `Gatehouse benchmark: ${availableParallelism()} cores, Node ${process.version}, ${process.platform} ${process.arch}; ${database.label}; ${durationS} s per scenario`,
    )
    print(
      'Servers run in child processes; autocannon runs in the harness on the same machine (loopback).',
    )

    // 1. /users/me/ throughput against the floor. The servers take turns in short slices, so that a machine
    // that speeds up or slows down during the run (a shared VM does) weighs on all of them alike.
    const token = await logIn(gatehouse.url, fixture.argon2Users[0]!)
    say(
      '1. starting Gatehouse with WORKERS=2, and with LOG_LEVEL=warn (what request logging costs)',
    )
    const clustered = await startGatehouse({
      dir,
      databaseUrl,
      secretKey,
      logFile: join(dir, 'gatehouse-workers.log'),
      workers: 2,
    })
    servers.push(clustered)
    const quiet = await startGatehouse({
      dir,
      databaseUrl,
      secretKey,
      logFile: join(dir, 'gatehouse-quiet.log'),
      logLevel: 'warn',
    })
    servers.push(quiet)
    const contenders: Array<[ServerProcess, string]> = [
      [floor, floorToken],
      [gatehouse, token],
      [quiet, token],
      [clustered, token],
    ]
    const usersMe = (server: ServerProcess, bearer: string, seconds: number): Promise<LoadResult> =>
      runLoad({
        url: `${server.url}/users/me/`,
        headers: { authorization: `Bearer ${bearer}` },
        connections: 64,
        durationS: seconds,
      })
    const rounds = Math.max(1, Math.round(durationS / ME_SLICE_S))
    say(
      `1. /users/me/ on the floor and on three Gatehouse set-ups in turn, ${rounds} rounds (64 connections)`,
    )
    for (const [server, bearer] of contenders) await usersMe(server, bearer, warmupS)
    const slices = contenders.map((): LoadResult[] => [])
    const [, meMemory] = await withMemory(gatehouse, async () => {
      for (let round = 0; round < rounds; round++) {
        for (const [index, [server, bearer]] of contenders.entries())
          slices[index]!.push(await usersMe(server, bearer, durationS / rounds))
      }
    })
    const [floorMe, gatehouseMe, quietMe, clusteredMe] = slices.map(combineLoads) as [
      LoadResult,
      LoadResult,
      LoadResult,
      LoadResult,
    ]
    memory.push(['1. /users/me/, 64 connections', meMemory])
    await clustered.stop()
    await quiet.stop()

    print()
    print(
      `1. GET /users/me/, 64 connections, ${durationS} s per server in ${rounds} turns (after a ${warmupS} s warm-up each)`,
    )
    const meRow = (name: string, result: LoadResult): string[] => [
      name,
      formatNumber(result.perSecond),
      ms(result.p50Ms),
      ms(result.p99Ms),
      formatRatio(result.perSecond / floorMe.perSecond),
    ]
    print(
      formatTable(
        ['server', 'req/s', 'p50 ms', 'p99 ms', 'vs floor'],
        [
          meRow('floor: node:http + node:crypto HS256, fixed user', floorMe),
          meRow('Gatehouse (1 process, info logs to a file)', gatehouseMe),
          meRow('Gatehouse, LOG_LEVEL=warn (no request logs)', quietMe),
          meRow('Gatehouse, WORKERS=2', clusteredMe),
        ],
      ),
    )

    // 2. Logins with correct passwords, against what one core verifies (measured now, while Gatehouse idles).
    say('2. one core’s bcrypt-12 verify rate, in the harness')
    const oneCoreVerifyRate = await measureBcryptVerifyRate(
      fixture.bcryptHash,
      Math.min(3, durationS),
    )
    const bcryptLogins = loginsAs(fixture.bcryptUsers)
    say('2. /token as bcrypt-12 users, then argon2id users (8 connections)')
    const [bcryptResult, bcryptMemory] = await withMemory(gatehouse, () =>
      runLoad({
        url: `${gatehouse.url}/token`,
        connections: 8,
        durationS,
        setupRequest: bcryptLogins.setupRequest,
      }),
    )
    memory.push(['2. /token, bcrypt-12 users', bcryptMemory])
    // Let the logins still in flight finish before the next measurement: their hashing would
    // otherwise be counted in the argon2id logins' latency.
    await waitUntilIdle(gatehouse.pid)
    const [argon2Result, argon2Memory] = await withMemory(gatehouse, () =>
      runLoad({
        url: `${gatehouse.url}/token`,
        connections: 8,
        durationS,
        setupRequest: loginsAs(fixture.argon2Users).setupRequest,
      }),
    )
    memory.push(['2. /token, argon2id users', argon2Memory])
    await sleep(1_000)
    const bcryptLoginRate = ratePerSecond(bcryptResult, 200)
    const argon2LoginRate = ratePerSecond(argon2Result, 200)
    // The floor is sized for the hash kinds stored: the database above holds bcrypt hashes, so its
    // floor is bcrypt-sized. A database of argon2id hashes only, one login at a time (latency, not queueing).
    say('2. a second Gatehouse on a database of argon2id hashes only: correct logins, 1 connection')
    const argon2OnlyDir = mkdtempSync(join(dir, 'argon2-only-'))
    const argon2OnlyDatabase = await benchDatabase(argon2OnlyDir)
    cleanups.push(() => argon2OnlyDatabase.drop())
    const argon2OnlyFixture = await createUsersFixture(argon2OnlyDatabase.url, {
      argon2: 1_000,
      bcrypt: 0,
    })
    // The first Gatehouse may still be verifying queued logins: its floor is measured at start.
    await waitUntilQuiet()
    const argon2Only = await startGatehouse({
      dir: argon2OnlyDir,
      databaseUrl: argon2OnlyDatabase.url,
      secretKey,
      logFile: join(argon2OnlyDir, 'gatehouse.log'),
    })
    const argon2OnlyResult = await runLoad({
      url: `${argon2Only.url}/token`,
      connections: 1,
      durationS: Math.min(5, durationS),
      setupRequest: loginsAs(argon2OnlyFixture.argon2Users).setupRequest,
    }).finally(() => argon2Only.stop())
    say('2. one argon2id verification in the harness; refreshes (8 clients)')
    const argon2VerifyMs = await measureArgon2VerifyMs(fixture.argon2Hash, 9)
    const refreshTokens: string[] = []
    for (const username of fixture.argon2Users.slice(-REFRESH_CLIENTS))
      refreshTokens.push((await logInForTokens(gatehouse.url, username)).refresh_token)
    const refreshRate = await measureRefreshRate(
      gatehouse.url,
      refreshTokens,
      Math.min(5, durationS),
    )
    const cores = availableParallelism()

    print()
    print(
      `2. POST /token with correct passwords, 8 connections, ${durationS} s, a different user on every request`,
    )
    const loginRow = (name: string, result: LoadResult): string[] => [
      name,
      formatNumber(ratePerSecond(result, 200)),
      ms(result.p50Ms),
      ms(result.p99Ms),
      ms(result.minMs),
      formatStatuses(result.statusCounts),
    ]
    print(
      formatTable(
        ['stored hash', 'logins/s', 'p50 ms', 'p99 ms', 'fastest ms', 'statuses'],
        [
          loginRow('bcrypt-12 (upgraded to argon2id on login)', bcryptResult),
          loginRow('argon2id (OWASP m=19456, t=2, p=1)', argon2Result),
        ],
      ),
    )
    print(
      `One core's bcrypt-12 verify rate (sequential verifies, ${Math.min(3, durationS)} s): ${formatNumber(oneCoreVerifyRate)}/s.`,
    )
    print(
      `bcrypt-12 logins/s / one core's verify rate: ${formatRatio(bcryptLoginRate / oneCoreVerifyRate)}.`,
    )
    print(
      `Failed logins are padded to the timing floor (LOGIN_MIN_DURATION_MS=auto), successes go out once verified; the fastest argon2id login took ${ms(argon2Result.minMs)} ms.`,
    )
    print(
      `Median correct argon2id login ÷ median bcrypt-12 login, beside bcrypt hashes: ${formatRatio(argon2Result.p50Ms / bcryptResult.p50Ms)} (target ≤ ${TARGETS.argon2LoginVersusBcryptLogin}x).`,
    )
    print(
      `One argon2id verification (OWASP m=19456, t=2, p=1) in the harness: median ${ms(argon2VerifyMs)} ms; median correct argon2id login: ${ms(argon2Result.p50Ms)} ms (${formatRatio(argon2Result.p50Ms / argon2VerifyMs)}) beside bcrypt hashes (bcrypt-sized floor, 8 connections), ${ms(argon2OnlyResult.p50Ms)} ms (${formatRatio(argon2OnlyResult.p50Ms / argon2VerifyMs)}) in a database of argon2id hashes only (1 connection).`,
    )
    print()
    print(
      `Against Keycloak's sizing guide (per vCPU: ${KEYCLOAK_PER_VCPU.logins} argon2 logins/s at 5 iterations, 7 MiB; ${KEYCLOAK_PER_VCPU.refreshes} refreshes/s), Gatehouse per core on ${cores} cores, load generator on the same machine:`,
    )
    print(
      formatTable(
        ['per core', 'Gatehouse', 'Keycloak', 'ratio'],
        [
          [
            'argon2id logins/s (19 MiB, 2 iterations)',
            formatNumber(argon2LoginRate / cores),
            String(KEYCLOAK_PER_VCPU.logins),
            formatRatio(argon2LoginRate / cores / KEYCLOAK_PER_VCPU.logins),
          ],
          [
            `refreshes/s (${REFRESH_CLIENTS} clients)`,
            formatNumber(refreshRate / cores),
            String(KEYCLOAK_PER_VCPU.refreshes),
            formatRatio(refreshRate / cores / KEYCLOAK_PER_VCPU.refreshes),
          ],
        ],
      ),
    )
    print(
      'Failed logins are padded to the timing floor (LOGIN_MIN_DURATION_MS=auto), successes are not; Keycloak pads nothing.',
    )
    if (bcryptLogins.next() > fixture.bcryptUsers.length)
      print('Warning: the bcrypt users ran out; some logins were of already upgraded users.')

    // 3. /users/me/ latency at a moderate fixed rate, idle and under login load.
    const rate = Math.max(100, Math.round(gatehouseMe.perSecond * 0.25))
    const meAtRate = (): Promise<LoadResult> =>
      runLoad({
        url: `${gatehouse.url}/users/me/`,
        headers: { authorization: `Bearer ${token}` },
        connections: 8,
        durationS,
        overallRate: rate,
      })
    const underLogins = async (
      setupRequest: (request: autocannon.RawRequest) => autocannon.RawRequest,
    ): Promise<[LoadResult, LoadResult]> => {
      const logins = runLoad({
        url: `${gatehouse.url}/token`,
        connections: 4,
        durationS: durationS + 2,
        setupRequest,
      })
      await sleep(1_000)
      const me = await meAtRate()
      return [me, await logins]
    }
    say(
      `3. /users/me/ at ${rate} req/s: idle, under argon2id logins, under bcrypt-12 logins (4 connections)`,
    )
    const idle = await meAtRate()
    const [[meUnderArgon2, argon2Load], underArgon2Memory] = await withMemory(gatehouse, () =>
      underLogins(loginsAs(fixture.argon2Users).setupRequest),
    )
    memory.push(['3. /users/me/ under argon2id logins', underArgon2Memory])
    await sleep(1_000)
    const [[meUnderBcrypt, bcryptLoad], underBcryptMemory] = await withMemory(gatehouse, () =>
      underLogins(bcryptLogins.setupRequest),
    )
    memory.push(['3. /users/me/ under bcrypt-12 logins', underBcryptMemory])
    await sleep(2_000)

    print()
    print(
      `3. GET /users/me/ at ${formatNumber(rate)} req/s (a quarter of scenario 1), 8 connections, ${durationS} s`,
    )
    print(
      formatTable(
        ['while', 'p50 ms', 'p99 ms', 'p99 vs idle', 'logins/s alongside'],
        [
          ['idle', ms(idle.p50Ms), ms(idle.p99Ms), formatRatio(1), '0'],
          [
            '4 connections log in, argon2id users',
            ms(meUnderArgon2.p50Ms),
            ms(meUnderArgon2.p99Ms),
            formatRatio(meUnderArgon2.p99Ms / idle.p99Ms),
            formatNumber(ratePerSecond(argon2Load, 200)),
          ],
          [
            '4 connections log in, bcrypt-12 users',
            ms(meUnderBcrypt.p50Ms),
            ms(meUnderBcrypt.p99Ms),
            formatRatio(meUnderBcrypt.p99Ms / idle.p99Ms),
            formatNumber(ratePerSecond(bcryptLoad, 200)),
          ],
        ],
      ),
    )

    // 4. Unknown-user flood: the hashing queue fills, the rest is shed with 503s.
    say(`4. flood of unknown-user logins (${FLOOD_CONNECTIONS} connections, ${floodS} s)`)
    let unknown = 0
    const before = rssMb(gatehouse.pid)
    const [flood, floodMemory] = await withMemory(gatehouse, () =>
      runLoad({
        url: `${gatehouse.url}/token`,
        connections: FLOOD_CONNECTIONS,
        durationS: floodS,
        setupRequest: (request) => ({
          ...request,
          method: 'POST',
          headers: FORM_HEADERS,
          body: `username=nobody-${unknown++}&password=wrong-password`,
        }),
      }),
    )
    // Let the queue drain, then see what the flood left behind.
    await sleep(2_000)
    const after = rssMb(gatehouse.pid)
    memory.push([`4. flood, ${FLOOD_CONNECTIONS} connections`, floodMemory])
    // Flat means a plateau: the second half of the flood needs no more memory than the first.
    const half = Math.ceil(floodMemory.samplesMb.length / 2)
    const firstHalfMb = Math.max(...floodMemory.samplesMb.slice(0, half))
    const secondHalfMb = Math.max(...floodMemory.samplesMb.slice(half))
    const flat = secondHalfMb - firstHalfMb < FLAT_MEMORY_MB

    print()
    print(
      `4. POST /token for unknown users, ${FLOOD_CONNECTIONS} connections, ${floodS} s (queue: HASH_CONCURRENCY=${availableParallelism()}, HASH_QUEUE_MAX=64)`,
    )
    print(
      formatTable(
        ['answers/s', '401/s', 'p50 ms', 'p99 ms', 'statuses'],
        [
          [
            formatNumber(flood.perSecond),
            formatNumber(ratePerSecond(flood, 401)),
            ms(flood.p50Ms),
            ms(flood.p99Ms),
            formatStatuses(flood.statusCounts) + (flood.errors ? `, errors: ${flood.errors}` : ''),
          ],
        ],
      ),
    )
    print(
      `RSS before ${formatNumber(before)} MB; max ${formatNumber(firstHalfMb)} MB in the first half of the flood, ${formatNumber(secondHalfMb)} MB in the second; ` +
        `${formatNumber(after)} MB 2 s after. Memory ${flat ? 'stayed flat (a plateau, bounded by the hashing queue)' : 'kept growing during the flood'}.`,
    )

    // 5. Memory.
    const gatehousePeak = peakRssMb(gatehouse.pid)
    const floorPeak = peakRssMb(floor.pid)
    print()
    print('5. Resident memory of the server processes')
    print(
      formatTable(
        ['process / scenario', 'RSS max MB (sampled every 200 ms)'],
        [
          ...memory.map(([name, trace]) => [`Gatehouse, ${name}`, formatNumber(trace.maxMb)]),
          ['Gatehouse, peak over the whole run (VmHWM)', formatNumber(gatehousePeak)],
          ['floor, peak over the whole run (VmHWM, tsx loader included)', formatNumber(floorPeak)],
        ],
      ),
    )

    const verdict = (met: boolean): string => (met ? 'met' : 'MISSED')
    print()
    print(`Targets (the same on SQLite and PostgreSQL; this run: ${database.label})`)
    print(
      formatTable(
        ['target', 'measured', 'wanted', 'result'],
        [
          [
            '/users/me/ req/s, Gatehouse / floor',
            formatRatio(gatehouseMe.perSecond / floorMe.perSecond, 3),
            `>= ${TARGETS.meVersusFloor}x`,
            verdict(gatehouseMe.perSecond / floorMe.perSecond >= TARGETS.meVersusFloor),
          ],
          [
            '/users/me/ p99 under argon2id logins / idle',
            formatRatio(meUnderArgon2.p99Ms / idle.p99Ms, 3),
            `<= ${TARGETS.p99UnderLoginsVersusIdle}x`,
            verdict(meUnderArgon2.p99Ms / idle.p99Ms <= TARGETS.p99UnderLoginsVersusIdle),
          ],
          [
            '/users/me/ p99 under bcrypt-12 logins / idle',
            formatRatio(meUnderBcrypt.p99Ms / idle.p99Ms, 3),
            `<= ${TARGETS.p99UnderLoginsVersusIdle}x`,
            verdict(meUnderBcrypt.p99Ms / idle.p99Ms <= TARGETS.p99UnderLoginsVersusIdle),
          ],
          [
            'bcrypt-12 logins/s / one core’s verify rate',
            formatRatio(bcryptLoginRate / oneCoreVerifyRate, 3),
            `>= ${TARGETS.bcryptLoginsVersusOneCore}x`,
            verdict(bcryptLoginRate / oneCoreVerifyRate >= TARGETS.bcryptLoginsVersusOneCore),
          ],
          [
            'median correct argon2id login / one argon2id verification',
            formatRatio(argon2OnlyResult.p50Ms / argon2VerifyMs, 3),
            `<= ${TARGETS.argon2LoginVersusOneVerify}x`,
            verdict(argon2OnlyResult.p50Ms / argon2VerifyMs <= TARGETS.argon2LoginVersusOneVerify),
          ],
          [
            'peak RSS of the Gatehouse process',
            `${formatNumber(gatehousePeak)} MB`,
            `< ${TARGETS.peakRssMb} MB`,
            verdict(gatehousePeak < TARGETS.peakRssMb),
          ],
        ],
      ),
    )
  } finally {
    for (const server of servers.reverse()) await server.stop()
    for (const cleanup of cleanups) await cleanup()
    rmSync(dir, { recursive: true, force: true })
  }
  const { otherCores, cores } = otherLoad.stop()
  print()
  print(
    `Other processes kept ${formatNumber(otherCores)} of the ${cores} cores busy during the run${otherCores > 0.2 ? ': the figures above are disturbed by them' : ''}.`,
  )
}

await main()

// The resource-server kit: the example service in events mode against the same service unverified.
if (!process.argv.includes('--users')) {
  print()
  print(formatResourceServerLine(await benchResourceServer(readDuration())))
}
