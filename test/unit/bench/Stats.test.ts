// The arithmetic of bench/side-by-side.ts: a wrong median or ratio would misreport every figure.
import { describe, expect, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import { formatFigure, formatRatio, median, percentile, ratio, spread, verdict } from "../../../bench/lib/Stats.js"

describe("median", () => {
  it("is the middle value, or the mean of the two middle ones, whatever the order", () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([7])).toBe(7)
    expect(median([])).toBeNaN()
  })

  it.prop("lies between the smallest and the largest value", [fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1 })], ([values]) => {
    const m = median(values)
    return m >= Math.min(...values) && m <= Math.max(...values)
  })
})

describe("percentile", () => {
  it("takes the nearest rank of sorted values", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 50)).toBe(51)
    expect(percentile(sorted, 99)).toBe(100)
    expect(percentile(sorted, 100)).toBe(100)
    expect(percentile([], 50)).toBeNaN()
  })
})

describe("ratio and its formatting", () => {
  it("divides, and has no ratio for a missing or zero base", () => {
    expect(ratio(594, 124)).toBeCloseTo(4.79, 2)
    expect(ratio(1, 0)).toBeNaN()
    expect(ratio(Number.NaN, 2)).toBeNaN()
  })

  it("prints whole numbers above 10, one decimal above 1, two significant digits below", () => {
    expect(formatRatio(52.4)).toBe("52×")
    expect(formatRatio(4.79)).toBe("4.8×")
    expect(formatRatio(1)).toBe("1.0×")
    expect(formatRatio(0.4321)).toBe("0.43×")
    expect(formatRatio(0.004917)).toBe("0.0049×")
    expect(formatRatio(Number.NaN)).toBe("–")
  })

  it("prints figures with thousands separators and a dash for none", () => {
    expect(formatFigure(28540.4)).toBe("28,540")
    expect(formatFigure(4.44, 1)).toBe("4.4")
    expect(formatFigure(Number.NaN)).toBe("–")
    expect(spread([3, 1.26, 2], 1)).toBe("1.3–3.0")
    expect(spread([])).toBe("–")
  })
})

describe("verdict", () => {
  it("meets an upper bound at or below it and a lower bound at or above it", () => {
    expect(verdict(2, { at: "most", limit: 2 })).toBe("met")
    expect(verdict(2.01, { at: "most", limit: 2 })).toBe("not met")
    expect(verdict(2000, { at: "least", limit: 2000 })).toBe("met")
    expect(verdict(227, { at: "least", limit: 2000 })).toBe("not met")
    expect(verdict(Number.NaN, { at: "most", limit: 2 })).toBe("not measured")
  })
})
