// A Server-Sent Events reader for tests: opens a stream over a real socket, parses what arrives
// (events, comments, retry) as the EventSource algorithm does, and waits for what a test expects.
import { request, type IncomingHttpHeaders } from 'node:http'
import { onTestFinished } from 'vitest'

export interface StreamEvent {
  /** The `id` line of the event, if it had one. */
  id?: string
  event?: string
  data?: string
  /** A comment line (e.g. `heartbeat`), sent on its own. */
  comment?: string
  retry?: string
  /** When it arrived (performance.now()). */
  receivedAt: number
}

export interface EventStreamReader {
  status: number
  headers: IncomingHttpHeaders
  /** Everything received so far, in order. */
  received: StreamEvent[]
  /** The events named `kind` so far (default: every named event). */
  events(kind?: string): StreamEvent[]
  /** Waits until `predicate` holds of what was received (rejects after `timeoutMs`). */
  until(predicate: (received: StreamEvent[]) => boolean, timeoutMs?: number): Promise<void>
  /** The body of an answer that is not a stream (an error). */
  body(): Promise<string>
  /** Resolves when the server ended the stream. */
  ended: Promise<void>
  /** Closes the connection from this side. */
  close(): void
}

export async function openEventStream(
  url: string,
  headers: Record<string, string> = {},
): Promise<EventStreamReader> {
  const received: StreamEvent[] = []
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const waiter of waiters) waiter()
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } })
    req.on('error', reject)
    req.on('response', (response) => {
      let buffer = ''
      let text = ''
      let endedResolve: () => void = () => undefined
      const ended = new Promise<void>((done) => (endedResolve = done))
      response.setEncoding('utf8')
      const isStream = response.headers['content-type']?.startsWith('text/event-stream') === true
      response.on('data', (chunk: string) => {
        if (!isStream) {
          text += chunk
          return
        }
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event: StreamEvent = { receivedAt: performance.now() }
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':')
            const field = colon < 0 ? line : line.slice(0, colon)
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
            if (field === '') event.comment = value
            else if (field === 'id' || field === 'event' || field === 'data' || field === 'retry')
              event[field] = event[field] === undefined ? value : `${event[field]}\n${value}`
          }
          received.push(event)
        }
        notify()
      })
      const finish = () => {
        endedResolve()
        notify()
      }
      response.on('end', finish)
      response.on('close', finish)
      response.on('error', finish)
      const reader: EventStreamReader = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        received,
        events: (kind) =>
          received.filter((e) => e.event !== undefined && (kind === undefined || e.event === kind)),
        until(predicate, timeoutMs = 5_000) {
          if (predicate(received)) return Promise.resolve()
          return new Promise<void>((done, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check)
              fail(
                new Error(
                  `stream: not seen within ${timeoutMs} ms; got ${JSON.stringify(received.slice(-5))}`,
                ),
              )
            }, timeoutMs)
            const check = () => {
              if (!predicate(received)) return
              clearTimeout(timer)
              waiters.delete(check)
              done()
            }
            waiters.add(check)
          })
        },
        async body() {
          await ended
          return text
        },
        ended,
        close: () => req.destroy(),
      }
      onTestFinished(() => reader.close())
      resolve(reader)
    })
    req.end()
  })
}

/** The JSON data of an event. */
export function dataOf<T = Record<string, unknown>>(event: StreamEvent): T {
  return JSON.parse(event.data ?? 'null') as T
}
