// logfmt and JSON log lines: no fiber id at info and above, kept at debug and trace; nothing else
// of Effect's format changes.
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as List from "effect/List"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { jsonLine, logfmtLine } from "../../../src/logging/LineFormats.js"

const options = (logLevel: LogLevel.LogLevel, message: unknown = "gateway running fiber=#7 kept"): Logger.Logger.Options<unknown> => ({
  fiberId: FiberId.make(42, 0),
  logLevel,
  message,
  cause: Cause.empty,
  context: FiberRefs.unsafeMake(new Map()),
  spans: List.empty(),
  annotations: HashMap.make(["adapter", "http"]),
  date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))
})

describe("logfmt lines", () => {
  it("an info line has no fiber field; the message and annotations are Effect's", () => {
    expect(logfmtLine.log(options(LogLevel.Info))).toBe(
      `timestamp=2026-01-02T03:04:05.006Z level=INFO message="gateway running fiber=#7 kept" adapter=http`
    )
    for (const level of [LogLevel.Warning, LogLevel.Error, LogLevel.Fatal]) {
      expect(logfmtLine.log(options(level))).not.toMatch(/^\S+ \S+ fiber=/)
    }
  })

  it("debug and trace lines keep the fiber id, exactly as Effect writes them", () => {
    for (const level of [LogLevel.Debug, LogLevel.Trace]) {
      expect(logfmtLine.log(options(level))).toBe(Logger.logfmtLogger.log(options(level)))
      expect(logfmtLine.log(options(level))).toContain(" fiber=#42 ")
    }
  })
})

describe("JSON lines", () => {
  it("an info line has no fiberId; debug keeps it", () => {
    const info = JSON.parse(jsonLine.log(options(LogLevel.Warning)))
    expect(info).toEqual({
      message: "gateway running fiber=#7 kept",
      logLevel: "WARN",
      timestamp: "2026-01-02T03:04:05.006Z",
      annotations: { adapter: "http" },
      spans: {}
    })
    expect(JSON.parse(jsonLine.log(options(LogLevel.Debug))).fiberId).toBe("#42")
  })
})
