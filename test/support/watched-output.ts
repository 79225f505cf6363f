// An output stream a test can wait on: it keeps what was written and resolves a wait once a given text
// has appeared, e.g. a prompt, so that a test answers when asked instead of after a guessed delay.
import { Writable } from 'node:stream'

export interface WatchedOutput {
  stream: Writable
  text(): string
  /** Resolves once `expected` has been written after everything an earlier wait consumed. */
  waitFor(expected: string): Promise<void>
}

export function watchedOutput(): WatchedOutput {
  let written = ''
  // Where the next wait starts looking, so that waiting twice for one prompt needs it written twice.
  let consumed = 0
  let pending: { expected: string; resolve: () => void } | undefined
  const check = (): void => {
    if (!pending) return
    const at = written.indexOf(pending.expected, consumed)
    if (at === -1) return
    consumed = at + pending.expected.length
    const { resolve } = pending
    pending = undefined
    resolve()
  }
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString()
      check()
      done()
    },
  })
  return {
    stream,
    text: () => written,
    waitFor(expected) {
      if (pending) throw new Error(`already waiting for ${JSON.stringify(pending.expected)}`)
      return new Promise<void>((resolve) => {
        pending = { expected, resolve }
        check()
      })
    },
  }
}
