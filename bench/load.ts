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
}

/** Responses of one status per second, e.g. successful logins. */
export const ratePerSecond = (result: LoadResult, status: number): number => (result.statusCounts[String(status)] ?? 0) / result.durationS

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
        const sorted = Float64Array.from(latencies).sort()
        const statusCounts: Record<string, number> = {}
        for (const [status, { count }] of Object.entries(result.statusCodeStats)) statusCounts[status] = count
        resolve({
          durationS: result.duration,
          perSecond: sorted.length / result.duration,
          responses: sorted.length,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          minMs: sorted[0] ?? Number.NaN,
          statusCounts,
          errors: result.errors + result.timeouts,
        })
      },
    )
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
      latencies.push(responseTimeMs)
    })
  })
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN
}
