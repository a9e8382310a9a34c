import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { DurationFromString, formatDuration, parseDuration, parseTimeoutStopUSec } from "../../../src/config/Duration.js"

const SEC = 1_000_000_000n
const MS = 1_000_000n
const US = 1_000n

/** Exact value whether Effect stores millis or nanos (its own toNanos rounds through a float). */
const nanosOf = (duration: Duration.Duration): bigint | "infinity" => {
  switch (duration.value._tag) {
    case "Infinity":
      return "infinity"
    case "Nanos":
      return duration.value.nanos
    case "Millis":
      return BigInt(duration.value.millis) * MS
  }
}

const parsed = (result: Either.Either<Duration.Duration, string>): bigint | "infinity" =>
  Either.match(result, {
    onLeft: (message) => {
      throw new Error(`expected a duration, got error: ${message}`)
    },
    onRight: nanosOf
  })

const rejection = (result: Either.Either<Duration.Duration, string>): string =>
  Either.match(result, {
    onLeft: (message) => message,
    onRight: (d) => {
      throw new Error(`expected a rejection, got ${formatDuration(d)}`)
    }
  })

describe("parseDuration", () => {
  it.each([
    ["90s", 90n * SEC],
    ["1min 30s", 90n * SEC],
    ["1min30s", 90n * SEC],
    ["  1 min   30 s  ", 90n * SEC],
    ["30s 1min", 90n * SEC],
    ["500ms", 500n * MS],
    ["2h", 7200n * SEC],
    ["1.5s", 1500n * MS],
    ["0.25min", 15n * SEC],
    ["20", 20n * SEC],
    ["1.5", 1500n * MS],
    ["0", 0n],
    ["0s", 0n],
    ["1min 30", 90n * SEC],
    ["1d 2h", 26n * 3600n * SEC],
    ["1w", 7n * 86400n * SEC]
  ])("reads %j", (text, nanos) => {
    expect(parsed(parseDuration(text))).toBe(nanos)
  })

  it("reads infinity as Duration.infinity", () => {
    const result = parseDuration(" infinity ")
    expect(Either.isRight(result) && result.right === Duration.infinity).toBe(true)
  })

  it.each([
    [["us", "usec", "\u00b5s", "\u03bcs"], US],
    [["ns", "nsec"], 1n],
    [["ms", "msec"], MS],
    [["s", "sec", "second", "seconds"], SEC],
    [["m", "min", "minute", "minutes"], 60n * SEC],
    [["h", "hr", "hour", "hours"], 3600n * SEC],
    [["d", "day", "days"], 86_400n * SEC],
    [["w", "week", "weeks"], 604_800n * SEC],
    [["M", "month", "months"], 2_629_800n * SEC],
    [["y", "year", "years"], 31_557_600n * SEC]
  ] as const)("unit spellings %j all mean the same length", (spellings, unit) => {
    for (const spelling of spellings) {
      expect(parsed(parseDuration(`3${spelling}`))).toBe(3n * unit)
      expect(parsed(parseDuration(`3 ${spelling}`))).toBe(3n * unit)
    }
  })

  it("names the bad text and the unknown unit", () => {
    expect(rejection(parseDuration("5 parsecs"))).toBe(`invalid duration "5 parsecs": unknown unit "parsecs"`)
  })

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["-5s", "negative"],
    ["- 5s", "negative"],
    ["soon", "expected a number"],
    ["5S", `unknown unit "S"`],
    ["5 secs", `unknown unit "secs"`],
    ["1.5.2s", `unexpected ".2s"`],
    ["5s,3s", `unexpected ",3s"`],
    ["5s -3s", `unexpected "-3s"`],
    ["1.s", "unexpected"],
    [".5s", "expected a number"],
    ["Infinity", "expected a number"],
    ["infinity 5s", "expected a number"],
    ["5s infinity", `unexpected "infinity"`],
    ["1e3s", `unknown unit "e"`]
  ])("rejects %j", (text, reason) => {
    const message = rejection(parseDuration(text))
    expect(message).toContain(`invalid duration ${JSON.stringify(text)}`)
    expect(message).toContain(reason)
  })
})

describe("parseTimeoutStopUSec", () => {
  it("reads an all-digit value as microseconds", () => {
    expect(parsed(parseTimeoutStopUSec("90000000"))).toBe(90n * SEC)
    expect(parsed(parseTimeoutStopUSec("0"))).toBe(0n)
  })

  it("reads systemd's printed time spans like parseDuration", () => {
    expect(parsed(parseTimeoutStopUSec("1min 30s"))).toBe(90n * SEC)
    expect(parsed(parseTimeoutStopUSec("500ms"))).toBe(500n * MS)
    expect(parsed(parseTimeoutStopUSec("infinity"))).toBe("infinity")
  })

  it("rejects what parseDuration rejects", () => {
    expect(rejection(parseTimeoutStopUSec("5 parsecs"))).toBe(`invalid duration "5 parsecs": unknown unit "parsecs"`)
    expect(rejection(parseTimeoutStopUSec(""))).toContain("empty")
  })
})

describe("formatDuration", () => {
  it.each([
    [Duration.seconds(20), "20s"],
    [Duration.seconds(90), "1min 30s"],
    [Duration.millis(500), "500ms"],
    [Duration.millis(1500), "1s 500ms"],
    [Duration.hours(2), "2h"],
    [Duration.days(8), "1w 1d"],
    [Duration.zero, "0s"],
    [Duration.micros(1500n), "1ms 500us"],
    [Duration.infinity, "infinity"]
  ])("renders %s as %j", (duration, text) => {
    expect(formatDuration(duration)).toBe(text)
  })
})

describe("DurationFromString", () => {
  it("decodes systemd syntax", () => {
    const decoded = Schema.decodeUnknownSync(DurationFromString)("1min 30s")
    expect(nanosOf(decoded)).toBe(90n * SEC)
  })

  it("fails with parseDuration's message", () => {
    const result = Schema.decodeUnknownEither(DurationFromString)("soon")
    expect(Either.isLeft(result) && result.left.message).toContain(`invalid duration "soon"`)
  })

  it("encodes back to the compact form", () => {
    expect(Schema.encodeSync(DurationFromString)(Duration.seconds(90))).toBe("1min 30s")
  })
})

// Independent of the module's table on purpose: a wrong unit there must fail here.
const unitNanos: ReadonlyArray<readonly [string, bigint]> = [
  ["us", US], ["ms", MS], ["s", SEC], ["sec", SEC], ["min", 60n * SEC], ["m", 60n * SEC],
  ["h", 3600n * SEC], ["d", 86_400n * SEC], ["w", 604_800n * SEC]
]

describe("duration properties", () => {
  it.prop(
    "formatDuration output parses back to the same value",
    [FastCheck.bigInt({ min: 0n, max: 10n ** 18n })],
    ([nanos]) => {
      expect(parsed(parseDuration(formatDuration(Duration.nanos(nanos))))).toBe(nanos)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "whole milliseconds survive the round trip too",
    [FastCheck.integer({ min: 0, max: 2 ** 40 })],
    ([millis]) => {
      const back = parseDuration(formatDuration(Duration.millis(millis)))
      expect(Either.isRight(back) && Duration.equals(back.right, Duration.millis(millis))).toBe(true)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "bare digits are seconds in config and microseconds in TimeoutStopUSec",
    [FastCheck.bigInt({ min: 0n, max: 10n ** 12n })],
    ([n]) => {
      expect(parsed(parseDuration(String(n)))).toBe(n * SEC)
      expect(parsed(parseTimeoutStopUSec(String(n)))).toBe(n * US)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "the parts of a duration add up, with or without spaces between them",
    [
      FastCheck.array(
        FastCheck.tuple(FastCheck.integer({ min: 0, max: 100_000 }), FastCheck.constantFrom(...unitNanos)),
        { minLength: 1, maxLength: 6 }
      ),
      FastCheck.constantFrom("", " ", "  ", "\t")
    ],
    ([parts, separator]) => {
      const text = parts.map(([n, [unit]]) => `${n}${unit}`).join(separator)
      const expected = parts.reduce((sum, [n, [, size]]) => sum + BigInt(n) * size, 0n)
      expect(parsed(parseDuration(text))).toBe(expected)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "a decimal fraction of a second is exact to the nanosecond",
    [FastCheck.integer({ min: 0, max: 1_000_000 }), FastCheck.integer({ min: 0, max: 999_999_999 })],
    ([whole, fraction]) => {
      const digits = String(fraction).padStart(9, "0")
      expect(parsed(parseDuration(`${whole}.${digits}s`))).toBe(BigInt(whole) * SEC + BigInt(fraction))
    },
    { fastCheck: { numRuns: 200 } }
  )
})
