// The event loop stays responsive while passwords are hashed: a wall-clock measurement, so it runs
// in the isolated project, where no other test file's hashing competes for the cores.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { createPasswordHasher } from '../../src/security/passwords.js'

describe('password hashing', () => {
  it('keeps the event loop responsive while hashing', async () => {
    const h = createPasswordHasher({ concurrency: 2, maxQueued: 64 })
    const delay = monitorEventLoopDelay({ resolution: 5 })
    delay.enable()
    await Promise.all(Array.from({ length: 8 }, (_, i) => h.hash(`password-${i}`)))
    delay.disable()
    // Eight argon2id hashes take hundreds of ms of CPU; none of it may block the loop.
    expect(delay.max / 1e6).toBeLessThan(100)
  })
})
