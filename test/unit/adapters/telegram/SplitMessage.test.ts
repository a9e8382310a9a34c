import { describe, expect, it } from "@effect/vitest"
import { splitMessage } from "../../../../src/adapters/telegram/SplitMessage.js"

describe("splitMessage", () => {
  it("short text is one message; empty text is one empty message", () => {
    expect(splitMessage("hello")).toEqual(["hello"])
    expect(splitMessage("")).toEqual([""])
  })

  it("prefers paragraph, then line, then space boundaries", () => {
    expect(splitMessage("aaaa bbbb\n\ncccc", 12)).toEqual(["aaaa bbbb", "cccc"])
    expect(splitMessage("aaaa bbbb\ncccc dd", 12)).toEqual(["aaaa bbbb", "cccc dd"])
    expect(splitMessage("aaaa bbbb cccc", 12)).toEqual(["aaaa bbbb", "cccc"])
  })

  it("cuts anywhere when there is no boundary, never inside a surrogate pair", () => {
    expect(splitMessage("x".repeat(25), 10)).toEqual(["x".repeat(10), "x".repeat(10), "x".repeat(5)])
    const emoji = "😀".repeat(6) // 12 code units
    const parts = splitMessage(emoji, 5)
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(5)
      expect(part).not.toMatch(/[\uD800-\uDBFF]$/)
    }
    expect(parts.join("")).toBe(emoji)
  })

  it("every part fits Telegram's limit", () => {
    const text = Array.from({ length: 400 }, (_, i) => `line ${i} ` + "z".repeat(i % 50)).join("\n")
    const parts = splitMessage(text)
    expect(parts.length).toBeGreaterThan(1)
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4096)
    expect(parts.join("\n")).toBe(text)
  })
})
