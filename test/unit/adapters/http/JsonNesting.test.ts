import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { nestsDeeperThan } from "../../../../src/adapters/http/JsonNesting.js"

/** The oracle: depth of the parsed value, walked recursively (fine for the small values generated). */
const depthOf = (value: unknown): number =>
  Array.isArray(value)
    ? 1 + Math.max(0, ...value.map(depthOf))
    : typeof value === "object" && value !== null
    ? 1 + Math.max(0, ...Object.values(value).map(depthOf))
    : 0

// Strings full of brackets, quotes and backslashes, which must not count.
const trickyString = FastCheck.stringOf(FastCheck.constantFrom("[", "]", "{", "}", "\"", "\\", "a", "é", "\n"))
const jsonValue = FastCheck.letrec((tie) => ({
  value: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.constant(null),
    FastCheck.integer(),
    trickyString,
    FastCheck.array(tie("value"), { maxLength: 4 }),
    FastCheck.dictionary(trickyString, tie("value"), { maxKeys: 3 })
  )
})).value

describe("nestsDeeperThan", () => {
  it.prop("agrees with the depth of the parsed value, whatever the strings hold", [jsonValue, FastCheck.nat(8)], ([value, limit]) => {
    const text = JSON.stringify(value)
    expect(nestsDeeperThan(text, limit)).toBe(depthOf(JSON.parse(text)) > limit)
  })

  it("counts 5,000 levels in linear time and without recursion", () => {
    const deep = "[".repeat(5000) + "]".repeat(5000)
    expect(nestsDeeperThan(deep, 128)).toBe(true)
    expect(nestsDeeperThan(deep, 5000)).toBe(false)
    expect(nestsDeeperThan(`{"a":"${"[".repeat(5000)}"}`, 1)).toBe(false)
  })
})
