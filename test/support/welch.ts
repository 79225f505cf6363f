// Welch's t-test for two samples of unequal variance: how many standard errors apart their means are.
// The timing tests use it on interleaved samples, so that drift in the machine's load hits both alike.

export interface WelchResult {
  t: number
  /** Welch–Satterthwaite degrees of freedom. */
  df: number
  meanA: number
  meanB: number
  sdA: number
  sdB: number
  /** Standard error of the difference of the means. */
  se: number
}

export function welch(a: readonly number[], b: readonly number[]): WelchResult {
  if (a.length < 2 || b.length < 2)
    throw new Error('welch() needs at least two samples on each side')
  const mean = (xs: readonly number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length
  const variance = (xs: readonly number[], m: number) =>
    xs.reduce((sum, x) => sum + (x - m) ** 2, 0) / (xs.length - 1)
  const [meanA, meanB] = [mean(a), mean(b)]
  const [va, vb] = [variance(a, meanA) / a.length, variance(b, meanB) / b.length]
  const se = Math.sqrt(va + vb)
  // Identical constant samples: no difference at all, rather than 0/0.
  const t =
    se === 0 ? (meanA === meanB ? 0 : Math.sign(meanA - meanB) * Infinity) : (meanA - meanB) / se
  const df =
    se === 0
      ? a.length + b.length - 2
      : (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1))
  return {
    t,
    df,
    meanA,
    meanB,
    sdA: Math.sqrt(variance(a, meanA)),
    sdB: Math.sqrt(variance(b, meanB)),
    se,
  }
}

/** One line for the test log: the means, spreads and the statistic. */
export function describeWelch(label: string, result: WelchResult): string {
  const ms = (value: number) => `${value.toFixed(1)} ms`
  return `${label}: ${ms(result.meanA)} ± ${ms(result.sdA)} vs ${ms(result.meanB)} ± ${ms(result.sdB)}, t = ${result.t.toFixed(2)} (df ${result.df.toFixed(0)})`
}

/**
 * The paired t statistic of per-round differences a[i] - b[i]: what drift in the machine's load does
 * to both samples of a round cancels out, so its standard error measures only what Welch's cannot
 * separate from drift.
 */
export function pairedT(
  a: readonly number[],
  b: readonly number[],
): { t: number; se: number; meanDifference: number } {
  if (a.length !== b.length || a.length < 2)
    throw new Error('pairedT() needs two samples of the same length, at least two')
  const differences = a.map((value, index) => value - b[index]!)
  const mean = differences.reduce((sum, d) => sum + d, 0) / differences.length
  const sd = Math.sqrt(
    differences.reduce((sum, d) => sum + (d - mean) ** 2, 0) / (differences.length - 1),
  )
  const se = sd / Math.sqrt(differences.length)
  return {
    t: se === 0 ? (mean === 0 ? 0 : Math.sign(mean) * Infinity) : mean / se,
    se,
    meanDifference: mean,
  }
}
