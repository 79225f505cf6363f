// One load run through autocannon's programmatic API, reduced to the figures the report prints.
// Latencies are taken from every response in fractional milliseconds: autocannon's own histogram keeps
// whole milliseconds only, too coarse for a /users/me/ answer that takes a fraction of one.
import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  connections: number
  durationS: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Cap on requests per second over all connections (autocannon sends each second's share at once). */
  overallRate?: number
  /** Changes each request before it is sent, e.g. to log in as a different user every time. */
  setupRequest?: (request: autocannon.RawRequest) => autocannon.RawRequest
}

export interface LoadResult {
  durationS: number
  /** Responses received per second over the run. */
  perSecond: number
  responses: number
  p50Ms: number
  p99Ms: number
  minMs: number
  statusCounts: Record<string, number>
  /** Connection errors and timeouts. */
  errors: number
  /** Every response's latency, sorted. */
  latenciesMs: Float64Array
}

/** Responses of one status per second, e.g. successful logins. */
export const ratePerSecond = (result: LoadResult, status: number): number =>
  (result.statusCounts[String(status)] ?? 0) / result.durationS

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        method: options.method ?? 'GET',
        headers: options.headers,
        body: options.body,
        overallRate: options.overallRate,
        // autocannon's correction adds made-up samples; the real latencies are recorded below instead.
        ignoreCoordinatedOmission: options.overallRate !== undefined,
        requests: options.setupRequest ? [{ setupRequest: options.setupRequest }] : undefined,
        timeout: 30,
      },
      (error, result) => {
        if (error) {
          reject(error)
          return
        }
        const statusCounts: Record<string, number> = {}
        for (const [status, { count }] of Object.entries(result.statusCodeStats))
          statusCounts[status] = count
        resolve(
          summarize(
            result.duration,
            Float64Array.from(latencies).sort(),
            statusCounts,
            result.errors + result.timeouts,
          ),
        )
      },
    )
    instance.on(
      'response',
      (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
        latencies.push(responseTimeMs)
      },
    )
  })
}

/** Several runs against one server as if they were one: durations, responses and latencies pooled. */
export function combineLoads(results: LoadResult[]): LoadResult {
  const statusCounts: Record<string, number> = {}
  for (const result of results) {
    for (const [status, count] of Object.entries(result.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + count
  }
  const latencies = new Float64Array(
    results.reduce((sum, result) => sum + result.latenciesMs.length, 0),
  )
  let offset = 0
  for (const result of results) {
    latencies.set(result.latenciesMs, offset)
    offset += result.latenciesMs.length
  }
  const sum = (value: (result: LoadResult) => number): number =>
    results.reduce((total, result) => total + value(result), 0)
  return summarize(
    sum((result) => result.durationS),
    latencies.sort(),
    statusCounts,
    sum((result) => result.errors),
  )
}

function summarize(
  durationS: number,
  sorted: Float64Array,
  statusCounts: Record<string, number>,
  errors: number,
): LoadResult {
  return {
    durationS,
    perSecond: sorted.length / durationS,
    responses: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    minMs: sorted[0] ?? Number.NaN,
    statusCounts,
    errors,
    latenciesMs: sorted,
  }
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN
}
