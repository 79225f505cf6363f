import { describe, expect, it } from 'vitest'
import { pairedT, welch } from './welch.js'

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

  it('pairs samples by round, so that drift shared by a round cancels out', () => {
    // Differences -1, -2, -3: mean -2, sd 1, se 1/sqrt(3).
    const result = pairedT([10, 20, 30], [11, 22, 33])
    expect(result.meanDifference).toBe(-2)
    expect(result.t).toBeCloseTo(-2 * Math.sqrt(3), 6)
    // The same values unpaired: the rounds' spread swamps the difference.
    expect(Math.abs(welch([10, 20, 30], [11, 22, 33]).t)).toBeLessThan(0.3)
  })
})
