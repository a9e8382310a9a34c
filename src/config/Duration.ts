// The one reader and writer of systemd-style time spans (`90s`, `1min 30s`, `infinity`), shared by
// config values and by `systemctl show -p TimeoutStopUSec`, so the gateway and its supervisor budget
// can never disagree about what a duration means (CONTRACT 6).
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const NS = 1n
const US = 1_000n * NS
const MS = 1_000n * US
const SEC = 1_000n * MS
const MIN = 60n * SEC
const HOUR = 60n * MIN
const DAY = 24n * HOUR
const WEEK = 7n * DAY
// systemd's own definitions: a month is 30.44 days and a year 365.25 days.
const MONTH = 2_629_800n * SEC
const YEAR = 31_557_600n * SEC

/** Unit spellings systemd accepts (case-sensitive there too: `M` is a month, `m` a minute). */
const units: ReadonlyMap<string, bigint> = new Map([
  ["ns", NS], ["nsec", NS],
  ["us", US], ["usec", US], ["\u00b5s", US], ["\u03bcs", US],
  ["ms", MS], ["msec", MS],
  ["s", SEC], ["sec", SEC], ["second", SEC], ["seconds", SEC],
  ["m", MIN], ["min", MIN], ["minute", MIN], ["minutes", MIN],
  ["h", HOUR], ["hr", HOUR], ["hour", HOUR], ["hours", HOUR],
  ["d", DAY], ["day", DAY], ["days", DAY],
  ["w", WEEK], ["week", WEEK], ["weeks", WEEK],
  ["M", MONTH], ["month", MONTH], ["months", MONTH],
  ["y", YEAR], ["year", YEAR], ["years", YEAR]
])

const NUMBER = /(\d+)(?:\.(\d+))?/y
const UNIT = /[A-Za-z\u00b5\u03bc]+/y
const SPACE = /\s*/y

const matchAt = (re: RegExp, text: string, at: number): RegExpExecArray | null => {
  re.lastIndex = at
  return re.exec(text)
}

/** Exact nanoseconds as a Duration; whole milliseconds stay in the millis form Effect builds itself. */
const fromNanos = (nanos: bigint): Duration.Duration =>
  nanos % MS === 0n && nanos / MS <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Duration.millis(Number(nanos / MS))
    : Duration.nanos(nanos)

/**
 * Parses with `defaultUnit` applied to numbers written without a unit. A part without a unit must be
 * followed by whitespace or the end, so `1.5.2s` is rejected rather than read as 1.5 s + 0.2 s.
 */
const parseWith = (text: string, defaultUnit: bigint): Either.Either<Duration.Duration, string> => {
  const bad = (reason: string) => Either.left(`invalid duration ${JSON.stringify(text)}: ${reason}`)
  const trimmed = text.trim()
  if (trimmed === "") return bad("empty")
  if (trimmed === "infinity") return Either.right(Duration.infinity)
  if (trimmed.startsWith("-")) return bad("negative durations are not allowed")

  let at = 0
  let total = 0n
  while (at < trimmed.length) {
    const number = matchAt(NUMBER, trimmed, at)
    if (number === null) {
      const rest = trimmed.slice(at)
      return bad(at === 0 ? "expected a number followed by a unit, e.g. 20s" : `unexpected ${JSON.stringify(rest)}`)
    }
    at += number[0].length
    at += matchAt(SPACE, trimmed, at)![0].length
    const unitMatch = matchAt(UNIT, trimmed, at)
    let unit = defaultUnit
    if (unitMatch !== null) {
      const known = units.get(unitMatch[0])
      if (known === undefined) return bad(`unknown unit ${JSON.stringify(unitMatch[0])}`)
      unit = known
      at += unitMatch[0].length
    } else if (at < trimmed.length && !/\s/.test(trimmed[at - 1]!)) {
      return bad(`unexpected ${JSON.stringify(trimmed.slice(at))}`)
    }
    const whole = BigInt(number[1]!)
    const fraction = number[2] ?? ""
    total += whole * unit + (fraction === "" ? 0n : (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length))
    at += matchAt(SPACE, trimmed, at)![0].length
  }
  return Either.right(fromNanos(total))
}

/** systemd time span; a number without a unit is seconds (`"20"` is 20 s), `infinity` is unbounded. */
export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => parseWith(text, SEC)

/**
 * `systemctl show -p TimeoutStopUSec` prints either a time span (`1min 30s`, `infinity`) or, in raw
 * form, a plain count of MICROseconds; only the all-digit form changes meaning.
 */
export const parseTimeoutStopUSec = (text: string): Either.Either<Duration.Duration, string> =>
  /^\s*\d+\s*$/.test(text) ? Either.right(fromNanos(BigInt(text.trim()) * US)) : parseWith(text, SEC)

/** Duration.unsafeToNanos goes through a float for the millis form and is off past 2^53 ns (~104 days). */
const exactNanos = (duration: Duration.Duration): bigint =>
  duration.value._tag === "Millis" && Number.isSafeInteger(duration.value.millis)
    ? BigInt(duration.value.millis) * MS
    : Duration.unsafeToNanos(duration)

const formatUnits: ReadonlyArray<readonly [string, bigint]> = [
  ["w", WEEK], ["d", DAY], ["h", HOUR], ["min", MIN], ["s", SEC], ["ms", MS], ["us", US], ["ns", NS]
]

/** Compact rendering (`20s`, `1min 30s`, `500ms`, `infinity`) that `parseDuration` reads back exactly. */
export const formatDuration = (duration: Duration.Duration): string => {
  if (!Duration.isFinite(duration)) return "infinity"
  let rest = exactNanos(duration)
  if (rest <= 0n) return "0s"
  const parts: Array<string> = []
  for (const [name, size] of formatUnits) {
    if (rest >= size) {
      parts.push(`${rest / size}${name}`)
      rest %= size
    }
  }
  return parts.join(" ")
}

/** A duration written as text; a bad one fails with parseDuration's message at the key's path. */
export const DurationFromString: Schema.Schema<Duration.Duration, string> = Schema.transformOrFail(
  Schema.String,
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (text, _, ast) =>
      Either.match(parseDuration(text), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, text, message)),
        onRight: ParseResult.succeed
      }),
    encode: (duration) => ParseResult.succeed(formatDuration(duration))
  }
).annotations({ identifier: "DurationFromString" })
