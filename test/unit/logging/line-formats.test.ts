// logfmt and JSON log lines: no fiber id at info and above, kept at debug and trace; nothing else
// of Effect's format changes (the logfmt writer is our own: compared with Effect's on any line).
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as List from "effect/List"
import * as LogSpan from "effect/LogSpan"
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

/** Effect's logfmt line with its fiber field taken out, as the gateway wrote it before its own writer. */
const effectWithoutFiber = (line: string) => line.replace(/^(timestamp=\S+ level=\S+) fiber=\S*/, "$1")

// Text with what logfmt must quote or escape: spaces, tabs, newlines, quotes, equals signs, backslashes.
const awkwardText = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.array(FastCheck.constantFrom("a", " ", "\t", "\n", "\"", "=", "\\", "é", "#7"), { maxLength: 12 }).map((parts) => parts.join(""))
)
const anyLevel = FastCheck.constantFrom(LogLevel.Trace, LogLevel.Debug, LogLevel.Info, LogLevel.Warning, LogLevel.Error, LogLevel.Fatal)
const anyMessage = FastCheck.oneof(
  awkwardText,
  FastCheck.array(awkwardText, { maxLength: 3 }),
  FastCheck.integer(),
  FastCheck.constant(undefined),
  FastCheck.dictionary(awkwardText, awkwardText, { maxKeys: 2 })
)
const anyCause = FastCheck.oneof(
  FastCheck.constant(Cause.empty),
  awkwardText.map((text) => Cause.fail(new Error(text))),
  awkwardText.map((text) => Cause.die(text))
)

describe("logfmt lines, any line", () => {
  it.prop(
    "field for field Effect's logfmt: without the fiber at info and above, with it at debug and trace",
    [
      anyLevel,
      anyMessage,
      anyCause,
      FastCheck.array(FastCheck.tuple(awkwardText, awkwardText), { maxLength: 3 }),
      FastCheck.array(FastCheck.tuple(awkwardText, FastCheck.integer({ min: 0, max: 10_000 })), { maxLength: 2 }),
      FastCheck.integer({ min: 0, max: 2 ** 40 })
    ],
    ([level, message, cause, annotations, spans, at]) => {
      const date = new Date(at + 10_000)
      const line: Logger.Logger.Options<unknown> = {
        ...options(level, message),
        cause,
        annotations: HashMap.fromIterable(annotations),
        spans: List.fromIterable(spans.map(([label, ago]) => LogSpan.make(label, at + 10_000 - ago))),
        date
      }
      const effects = Logger.logfmtLogger.log(line)
      expect(logfmtLine.log(line)).toBe(LogLevel.greaterThan(level, LogLevel.Debug) ? effectWithoutFiber(effects) : effects)
    },
    { fastCheck: { numRuns: 500 } }
  )
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
