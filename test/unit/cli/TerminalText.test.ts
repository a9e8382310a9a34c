import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { escapeControls, escapeMultiline } from "../../../src/cli/TerminalText.js"

// Anything a terminal acts on instead of printing.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

// Text biased towards controls and escape sequences, plus any Unicode.
const hostileText = FastCheck.oneof(
  FastCheck.fullUnicodeString(),
  FastCheck.stringOf(FastCheck.oneof(
    FastCheck.integer({ min: 0, max: 0x9f }).map((code) => String.fromCharCode(code)),
    FastCheck.constantFrom("\u001b]0;pwned\u0007", "\u001b[2J", "\u009b31m", "\u202e", "\\x1b", "é", "日本")
  ))
)

describe("escapeControls", () => {
  it.prop("leaves no control character in its output", [hostileText], ([text]) => {
    expect(controlCharacter.test(escapeControls(text))).toBe(false)
  })

  it.prop("leaves printable text exactly as it was", [FastCheck.fullUnicodeString()], ([text]) => {
    const printable = text.replace(new RegExp(controlCharacter, "g"), "")
    expect(escapeControls(printable)).toBe(printable)
  })

  it.prop("shows every control character as its own escape (none is dropped)", [hostileText], ([text]) => {
    const controls = [...text].filter((character) => controlCharacter.test(character)).length
    const escapes = escapeControls(text).split("\\").length - text.split("\\").length
    expect(escapes).toBe(controls)
  })

  it("spells the usual suspects the way a programmer would type them", () => {
    expect(escapeControls("\u001b]0;title\u0007tab\there\r\n\u007f\u009b\u202e"))
      .toBe("\\x1b]0;title\\x07tab\\there\\r\\n\\x7f\\x9b\\u202e")
  })
})

describe("escapeMultiline", () => {
  it.prop("keeps line breaks but starts no line at the left margin after the first", [hostileText], ([text]) => {
    const [first, ...rest] = escapeMultiline(text).split("\n")
    expect(controlCharacter.test(first!)).toBe(false)
    for (const line of rest) {
      expect(line.startsWith("    ")).toBe(true)
      expect(controlCharacter.test(line)).toBe(false)
    }
    expect(rest.length).toBe(text.split("\n").length - 1)
  })
})
