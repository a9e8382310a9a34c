// The terminal log format: calm, colour on the level word only, no fiber ids at info.
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as LogLevel from "effect/LogLevel"
import { effectiveLevel } from "../../../src/logging/Logging.js"
import { parseLogLevelName } from "../../../src/logging/LogLevelName.js"
import { formatPretty, type PrettyLine, wantsColour } from "../../../src/logging/PrettyLogger.js"

const line = (level: LogLevel.LogLevel, message: unknown = "gateway running"): PrettyLine => ({
  date: new Date(2026, 0, 2, 3, 4, 5, 6),
  level,
  message,
  fiberId: FiberId.make(42, 0),
  annotations: [],
  spans: [],
  cause: Cause.empty
})

describe("pretty log lines", () => {
  it("an info line: time, level, message; no fiber id", () => {
    expect(formatPretty(line(LogLevel.Info), false)).toBe("03:04:05.006 INFO  gateway running\n")
  })

  it("colour codes wrap the level word only and are reset on the same line", () => {
    for (const level of [LogLevel.Info, LogLevel.Warning, LogLevel.Error, LogLevel.Debug]) {
      const text = formatPretty(line(level), true)
      const escapes = [...text.matchAll(/\u001b\[[0-9;]*m/g)]
      expect(escapes).toHaveLength(2)
      expect(escapes[1]![0]).toBe("\u001b[0m")
      // Both codes sit right around the level word; the message is plain.
      expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \u001b\[[0-9;]+m(INFO |WARN |ERROR|DEBUG)\u001b\[0m gateway running/)
      expect(text.endsWith("gateway running\n") || text.includes("fiber=")).toBe(true)
    }
  })

  it("debug and trace lines carry the fiber id; warnings and errors do not", () => {
    expect(formatPretty(line(LogLevel.Debug), false)).toContain("fiber=#42")
    expect(formatPretty(line(LogLevel.Trace), false)).toContain("fiber=#42")
    expect(formatPretty(line(LogLevel.Warning), false)).not.toContain("fiber")
    expect(formatPretty(line(LogLevel.Error), false)).not.toContain("fiber")
  })

  it("annotations are key=value, quoted when they hold spaces; a cause follows indented", () => {
    const text = formatPretty({ ...line(LogLevel.Error, ["turn failed", "x"]), annotations: [["chat", "a b"]], cause: Cause.fail("boom") }, false)
    expect(text.split("\n")[0]).toBe("03:04:05.006 ERROR turn failed x chat=\"a b\"")
    expect(text.split("\n")[1]).toMatch(/^ {4}/)
  })

  it("colour only on a terminal, and never with NO_COLOR or TERM=dumb", () => {
    expect(wantsColour(true, {})).toBe(true)
    expect(wantsColour(false, {})).toBe(false)
    expect(wantsColour(true, { NO_COLOR: "1" })).toBe(false)
    expect(wantsColour(true, { TERM: "dumb" })).toBe(false)
  })
})

describe("log level", () => {
  it("the flag wins over what the config resolved (its file, then $HERMES_LOG_LEVEL)", () => {
    expect(effectiveLevel("debug", "info")).toBe("debug")
    expect(effectiveLevel(undefined, "warning")).toBe("warning")
  })
  it("level names: warn is warning, case does not matter, others are refused", () => {
    expect(parseLogLevelName("WARN")).toBe("warning")
    expect(parseLogLevelName("debug")).toBe("debug")
    expect(parseLogLevelName("loud")).toBeUndefined()
  })
})
