// The part of autocannon's programmatic API the bench uses; the package ships no typings and no
// @types package is installed, so these follow autocannon 8's README.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  namespace autocannon {
    interface RawRequest {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
    }

    interface Request extends RawRequest {
      setupRequest?: (request: RawRequest, context: Record<string, unknown>) => RawRequest
    }

    interface Options {
      url: string
      connections?: number
      /** Seconds. */
      duration?: number
      method?: string
      headers?: Record<string, string>
      body?: string
      requests?: Request[]
      overallRate?: number
      ignoreCoordinatedOmission?: boolean
      /** Seconds. */
      timeout?: number
    }

    interface Histogram {
      min: number
      max: number
      average: number
      p50: number
      p99: number
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      latency: Histogram
      requests: Histogram & { total: number; sent: number }
      statusCodeStats: Record<string, { count: number }>
    }

    interface Instance extends EventEmitter {
      stop(): void
    }
  }

  function autocannon(
    options: autocannon.Options,
    callback: (error: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance
  export = autocannon
}
