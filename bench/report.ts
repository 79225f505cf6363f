// Plain-text output of the bench: aligned tables (numbers right-aligned) and number formats, so the
// printed figures can be pasted into the README or an issue as they are.

/** An aligned table: a header row, a rule, then the rows. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, column) =>
    Math.max(...all.map((row) => (row[column] ?? '').length)),
  )
  const numeric = header.map((_, column) =>
    rows.every((row) => /^[\d.,x×+-]*$|^n\/a$/.test(row[column] ?? '')),
  )
  const line = (row: string[]): string =>
    row
      .map((cell, column) =>
        numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd()
  return [
    line(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.map(line),
  ].join('\n')
}

/** 12,345 for large values, 12.3 or 1.23 for small ones. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  if (Math.abs(value) >= 1_000) return Math.round(value).toLocaleString('en-US')
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** 0.64x; pass 3 digits where a verdict is drawn, so 0.597x does not read as 0.60x. */
export const formatRatio = (value: number, digits = 2): string =>
  Number.isFinite(value) ? `${value.toFixed(digits)}x` : 'n/a'

/** "200: 61, 503: 1,204" */
export function formatStatuses(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))
  return entries.length === 0
    ? 'none'
    : entries.map(([status, count]) => `${status}: ${count.toLocaleString('en-US')}`).join(', ')
}
