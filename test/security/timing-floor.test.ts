import { performance } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { createTimingFloor, floorFor } from '../../src/security/timing-floor.js'

describe('timing floor', () => {
  it('pads an answer to the floor', async () => {
    const floor = createTimingFloor(60)
    const started = performance.now()
    await floor.pad(started)
    expect(performance.now() - started).toBeGreaterThanOrEqual(59)
  })

  it('pads to one floor per verification the input calls for', async () => {
    const floor = createTimingFloor(40)
    const started = performance.now()
    await floor.pad(started, 2)
    expect(performance.now() - started).toBeGreaterThanOrEqual(79)
  })

  it('does not delay an answer that is already past the floor', async () => {
    // Far past a long floor: padding at all would take a second, more than any busy machine's stall.
    const floor = createTimingFloor(2_000)
    const started = performance.now() - 10_000
    const before = performance.now()
    await floor.pad(started)
    expect(performance.now() - before).toBeLessThan(1_000)
  })

  it('rises after an overrun and eases back to its base', () => {
    const floor = createTimingFloor(100)
    floor.observe(400)
    expect(floor.floorMs).toBe(500)
    for (let i = 0; i < 100; i++) floor.observe(10)
    expect(floor.floorMs).toBe(100)
  })

  it('never rises past its cap', () => {
    const floor = createTimingFloor(100, 1_000)
    floor.observe(60_000)
    expect(floor.floorMs).toBe(1_000)
  })

  it('takes a measured base with a margin', () => {
    const floor = createTimingFloor()
    floor.setBase(floorFor(200))
    expect(floor.floorMs).toBe(300)
    // With one kind of hash stored the dummy does the same work as a real check: a smaller margin.
    floor.setBase(floorFor(200, true))
    expect(floor.floorMs).toBe(240)
  })
})
