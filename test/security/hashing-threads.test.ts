import { describe, expect, it } from 'vitest'
import { libuvPoolSize, lowerHashingThreadPriority } from '../../src/security/hashing-threads.js'

describe('lowerHashingThreadPriority', () => {
  it('does nothing where threads have no nice value of their own', async () => {
    expect(await lowerHashingThreadPriority({ niceness: 10, platform: 'darwin' })).toEqual({
      applied: false,
      reason: 'per-thread priorities are set on Linux only',
    })
    expect(await lowerHashingThreadPriority({ niceness: 10, platform: 'win32' })).toMatchObject({
      applied: false,
    })
  })

  it('does nothing with a niceness of 0', async () => {
    expect(await lowerHashingThreadPriority({ niceness: 0 })).toEqual({
      applied: false,
      reason: 'HASH_THREAD_NICENESS is 0',
    })
  })
})

describe('libuvPoolSize', () => {
  it('reads UV_THREADPOOL_SIZE as libuv does', () => {
    expect(libuvPoolSize(undefined)).toBe(4)
    expect(libuvPoolSize('12')).toBe(12)
    expect(libuvPoolSize('0')).toBe(1)
    expect(libuvPoolSize('many')).toBe(1)
    expect(libuvPoolSize('5000')).toBe(1024)
    expect(libuvPoolSize('-2')).toBe(1024)
  })
})
