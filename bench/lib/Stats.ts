// The arithmetic of the side-by-side benchmark: medians, percentiles, spreads, ratios and the
// verdict against a target. Pure, unit-tested in test/unit/bench/Stats.test.ts.

/** The median; NaN for no values. Even counts average the two middle values. */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Nearest-rank percentile of values sorted ascending (p in 0..100); NaN for no values. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/** "min–max" of the values, to `digits` decimals. */
export const spread = (values: ReadonlyArray<number>, digits = 0): string =>
  values.length === 0 ? "–" : `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`

/** value / base, NaN when either is missing or the base is zero. */
export const ratio = (value: number, base: number): number =>
  Number.isFinite(value) && Number.isFinite(base) && base !== 0 ? value / base : Number.NaN

/** 52×, 4.7×, 0.43×, 0.0049×: whole above 10, else two significant digits; "–" for no ratio. */
export const formatRatio = (r: number): string => {
  if (!Number.isFinite(r)) return "–"
  if (r >= 10) return `${r.toFixed(0)}×`
  if (r >= 1) return `${r.toFixed(1)}×`
  return `${Number(r.toPrecision(2))}×`
}

/** A figure, or "–" when it was not measured for that target. */
export const formatFigure = (value: number, digits = 0): string =>
  Number.isFinite(value) ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–"

export interface Target {
  readonly at: "most" | "least"
  readonly limit: number
}

export type Verdict = "met" | "not met" | "not measured"

export const verdict = (value: number, target: Target): Verdict => {
  if (!Number.isFinite(value)) return "not measured"
  return (target.at === "most" ? value <= target.limit : value >= target.limit) ? "met" : "not met"
}
