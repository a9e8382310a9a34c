// The machine-readable log formats (logfmt, JSON) as Effect writes them, without the fiber id on
// info lines and above: it means nothing to an operator reading a journal, and debug and trace
// lines keep it for following concurrent work (as the pretty format does).
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

const keepsFiber = (level: LogLevel.LogLevel): boolean => !LogLevel.greaterThan(level, LogLevel.Debug)

// Effect's logfmt rules: a value with whitespace, a quote or an equals sign is written as a JSON
// string; a key has those characters replaced by underscores.
const bareValue = /^[^\s"=]*$/
const logfmtValue = (text: string): string => (bareValue.test(text) ? text : JSON.stringify(text))
const keyCharacters = /[\s="]/g
const logfmtKey = (key: string): string => key.replace(keyCharacters, "_")

// A level's label never needs quoting ("INFO", "WARN", …), but Effect's writer checks it anyway.
const logfmtLevel = (level: LogLevel.LogLevel): string => logfmtValue(level.label)

/**
 * `timestamp=… level=INFO message=… cause=… span=…ms key=value…`, field for field what Effect's
 * logfmtLogger writes (test/unit/logging/line-formats.test.ts compares the two), written here
 * rather than by stripping Effect's line: it spends no time naming a fiber that is then cut out
 * again (one such line per turn, ~10 µs of the event loop: BENCHMARKS.md, issue 13).
 */
export const logfmtLine: Logger.Logger<unknown, string> = Logger.make(
  ({ annotations, cause, date, fiberId, logLevel, message, spans }) => {
    let out = `timestamp=${date.toISOString()} level=${logfmtLevel(logLevel)}`
    if (keepsFiber(logLevel)) out += ` fiber=${logfmtValue(FiberId.threadName(fiberId))}`
    for (const part of Arr.ensure(message)) out += ` message=${logfmtValue(Inspectable.toStringUnknown(part, 0))}`
    if (!Cause.isEmptyType(cause)) out += ` cause=${logfmtValue(Cause.pretty(cause, { renderErrorCause: true }))}`
    const now = date.getTime()
    for (const span of spans) out += ` ${logfmtKey(span.label)}=${now - span.startTime}ms`
    for (const [key, value] of annotations) out += ` ${logfmtKey(key)}=${logfmtValue(Inspectable.toStringUnknown(value, 0))}`
    return out
  }
)

/** Effect's JSON line ends with the `fiberId` key. */
export const jsonLine: Logger.Logger<unknown, string> = Logger.make((options) => {
  const line = Logger.jsonLogger.log(options)
  return keepsFiber(options.logLevel) ? line : line.replace(/,"fiberId":"[^"]*"\}$/, "}")
})
