// What every fuzz test shares: a fixed seed and bounded run counts (so `npm test` is reproducible and
// quick, and `npm run fuzz` goes further), the invariants every answer must keep, and a snapshot of
// the database to prove that a rejected request changed nothing.
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { Parameters as FcParameters } from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'

/** Fixed by default, so a failure in CI is the same failure on a laptop; FUZZ_SEED explores elsewhere. */
export const FUZZ_SEED = parseSeed(process.env.FUZZ_SEED)

/** FUZZ_RUNS=big multiplies every run count by 25; a number multiplies by that number. */
const RUN_FACTOR = parseFactor(process.env.FUZZ_RUNS)

function parseSeed(text: string | undefined): number {
  if (text === undefined || text === '') return 20_250_601
  const seed = Number(text)
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got '${text}'`)
  return seed | 0
}

function parseFactor(text: string | undefined): number {
  if (text === undefined || text === '') return 1
  if (text === 'big') return 25
  const factor = Number(text)
  if (!(factor > 0)) throw new Error(`FUZZ_RUNS must be 'big' or a positive number, got '${text}'`)
  return factor
}

/** fast-check parameters for a property run `runs` times in `npm test`. */
export function fuzzParameters<T>(runs: number): FcParameters<T> {
  return {
    seed: FUZZ_SEED,
    numRuns: Math.max(1, Math.round(runs * RUN_FACTOR)),
    endOnFailure: true,
  }
}

/** A vitest timeout for a test whose runs take about `msPerRun` each (with room for a slow, shared machine). */
export function fuzzTimeout(runs: number, msPerRun: number): number {
  return Math.max(30_000, Math.round(runs * RUN_FACTOR * msPerRun * 4))
}

export interface SentRequest {
  method: string
  url: string
}

/**
 * The invariants of every answer: never a 5xx, and an error is JSON with a string `detail` (HEAD
 * answers have no body to check).
 */
export function expectWellFormed(response: LightMyRequestResponse, sent: SentRequest): void {
  const context = `${sent.method} ${sent.url.slice(0, 200)} -> ${response.statusCode} ${response.body.slice(0, 300)}`
  expect(response.statusCode, context).toBeLessThan(500)
  if (response.statusCode < 400 || sent.method === 'HEAD') return
  expect(response.headers['content-type'], context).toMatch(/^application\/json/)
  const body: unknown = JSON.parse(response.body)
  expect(body, context).toEqual(expect.objectContaining({ detail: expect.any(String) as unknown }))
}

/**
 * Every row a request could change, apart from failed-login counters (a rejected login is meant to
 * count). Read straight from the SQLite file, beside the app's own connection, so nothing the app
 * caches can hide a change.
 */
export function openStateReader(dir: string): { snapshot(): string; close(): void } {
  const db = new Database(join(dir, 'users.db'), { readonly: true, fileMustExist: true })
  const tables = [
    'users',
    'gatehouse_sessions',
    'gatehouse_refresh_tokens',
    'gatehouse_signing_keys',
  ]
  const statements = tables.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY 1`))
  return {
    snapshot: () => JSON.stringify(statements.map((statement) => statement.all())),
    close: () => db.close(),
  }
}

/**
 * Counts the statuses a property produced, so a test can show that its inputs reached the code behind
 * the first checks (a fuzzer whose every input dies in the parser proves little).
 */
export function createTally(): {
  add(status: number): void
  count(status: number, upTo?: number): number
  toString(): string
} {
  const counts = new Map<number, number>()
  return {
    add: (status) => void counts.set(status, (counts.get(status) ?? 0) + 1),
    /** Answers with this status, or with a status from `status` to `upTo`. */
    count: (status, upTo = status) =>
      [...counts].reduce(
        (sum, [code, count]) => (code >= status && code <= upTo ? sum + count : sum),
        0,
      ),
    toString: () => JSON.stringify(Object.fromEntries([...counts].sort(([a], [b]) => a - b))),
  }
}
