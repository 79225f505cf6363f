import { describe, expect, it } from 'vitest'
import { welch } from './welch.js'

describe('welch', () => {
  it('computes the statistic and the Welch–Satterthwaite degrees of freedom', () => {
    // Worked by hand: means 2.5 and 5, variances 5/3 and 20/3.
    const result = welch([1, 2, 3, 4], [2, 4, 6, 8])
    expect(result.t).toBeCloseTo(-1.7321, 3)
    expect(result.df).toBeCloseTo(4.4118, 3)
    expect(result.se).toBeCloseTo(1.4434, 3)
  })

  it('reports no difference between identical constant samples, and an infinite one between different constants', () => {
    expect(welch([5, 5, 5], [5, 5]).t).toBe(0)
    expect(welch([5, 5, 5], [6, 6]).t).toBe(-Infinity)
  })
})
