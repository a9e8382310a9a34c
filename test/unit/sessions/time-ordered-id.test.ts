import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { timeOrderedId } from "../../../src/sessions/TimeOrderedId.js"

const version7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The 48-bit millisecond timestamp RFC 9562 puts at the front of a version-7 id. */
const millisOf = (id: string): number => parseInt(id.slice(0, 8) + id.slice(9, 13), 16)

/** The 74 bits that are not the timestamp, version or variant, as a string of hex digits and bits. */
const randomPart = (id: string): string => {
  const hex = id.replaceAll("-", "")
  const variantNibble = parseInt(hex[16]!, 16) & 0x3
  return hex.slice(13, 16) + variantNibble.toString() + hex.slice(17)
}

const anyMillis = FastCheck.integer({ min: 0, max: 2 ** 48 - 1 })

describe("time-ordered session and turn ids (UUID version 7)", () => {
  it.prop(
    "an id is a lowercase version-7 UUID with the RFC 4122 variant and carries the millisecond it was made at",
    [anyMillis],
    ([ms]) => {
      const id = timeOrderedId(ms)
      expect(id).toMatch(version7)
      expect(millisOf(id)).toBe(ms)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "an id made in a later millisecond sorts after, as text: the indexes keyed by ids grow at their right edge",
    [anyMillis, anyMillis],
    ([a, b]) => {
      FastCheck.pre(a !== b)
      const [earlier, later] = a < b ? [a, b] : [b, a]
      expect(timeOrderedId(earlier) < timeOrderedId(later)).toBe(true)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("ids made in the same millisecond differ in their random bits, across refills of the random pool", () => {
    const ids = Array.from({ length: 5_000 }, () => timeOrderedId(1_765_000_000_000))
    expect(new Set(ids).size).toBe(ids.length)
    expect(new Set(ids.map(randomPart)).size).toBe(ids.length)
    // Every random hex digit position takes many values: no position is stuck (a slicing mistake).
    for (let i = 0; i < randomPart(ids[0]!).length; i++) {
      expect(new Set(ids.map((id) => randomPart(id)[i])).size).toBe(i === 3 ? 4 : 16)
    }
  })

  it("out-of-range clocks are clamped, never a malformed id", () => {
    expect(timeOrderedId(-5)).toMatch(version7)
    expect(millisOf(timeOrderedId(-5))).toBe(0)
    expect(millisOf(timeOrderedId(2 ** 50))).toBe(2 ** 48 - 1)
    expect(timeOrderedId(Number.NaN)).toMatch(version7)
  })

  it("without an argument the id carries the wall clock's millisecond", () => {
    const before = Date.now()
    const id = timeOrderedId()
    expect(millisOf(id)).toBeGreaterThanOrEqual(before)
    expect(millisOf(id)).toBeLessThanOrEqual(Date.now())
  })
})
