// The human log format for a terminal: `12:00:01.250 INFO  message key=value`. Calm on purpose:
// colour only on the level word, reset before anything else on the line; the fiber id only on
// debug and trace lines, where it helps to follow concurrent work.
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as HashMap from "effect/HashMap"
import * as List from "effect/List"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"

const reset = "\u001b[0m"
const colours: Record<LogLevel.LogLevel["_tag"], string> = {
  All: "",
  None: "",
  Trace: "\u001b[2m",
  Debug: "\u001b[34m",
  Info: "\u001b[32m",
  Warning: "\u001b[33m",
  Error: "\u001b[31m",
  Fatal: "\u001b[1;31m"
}
const words: Record<LogLevel.LogLevel["_tag"], string> = {
  All: "ALL",
  None: "NONE",
  Trace: "TRACE",
  Debug: "DEBUG",
  Info: "INFO",
  Warning: "WARN",
  Error: "ERROR",
  Fatal: "FATAL"
}

const text = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** A value that would break `key=value` reading (spaces, quotes, `=`, nothing) is quoted. */
const field = (key: string, value: unknown): string => {
  const raw = text(value)
  return `${key}=${/^[^\s"=]+$/.test(raw) ? raw : JSON.stringify(raw)}`
}

const clock = (date: Date): string =>
  [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":") +
  `.${String(date.getMilliseconds()).padStart(3, "0")}`

export interface PrettyLine {
  readonly date: Date
  readonly level: LogLevel.LogLevel
  readonly message: unknown
  readonly fiberId: FiberId.FiberId
  readonly annotations: ReadonlyArray<readonly [string, unknown]>
  readonly spans: ReadonlyArray<readonly [string, number]>
  readonly cause: Cause.Cause<unknown>
}

/** One record as text, ending in a newline; colour codes only around the level word. */
export const formatPretty = (line: PrettyLine, colour: boolean): string => {
  const messages = Array.isArray(line.message) ? line.message : [line.message]
  const level = words[line.level._tag].padEnd(5)
  const parts = [clock(line.date), colour ? `${colours[line.level._tag]}${level}${reset}` : level, messages.map(text).join(" ")]
  if (line.level.ordinal <= 10000) parts.push(field("fiber", FiberId.threadName(line.fiberId)))
  for (const [label, start] of line.spans) parts.push(field(label, `${line.date.getTime() - start}ms`))
  for (const [key, value] of line.annotations) parts.push(field(key, value))
  let out = parts.join(" ")
  if (!Cause.isEmpty(line.cause)) out += "\n" + Cause.pretty(line.cause).split("\n").map((l) => `    ${l}`).join("\n")
  return out + "\n"
}

/** Colour when stderr is a terminal and the operator did not ask for none (NO_COLOR, TERM=dumb). */
export const wantsColour = (isTty: boolean, env: NodeJS.ProcessEnv): boolean =>
  isTty && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb"

export const prettyLogger = (write: (text: string) => void, colour: boolean): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, cause, date, fiberId, logLevel, message, spans }) =>
    write(formatPretty({
      date,
      level: logLevel,
      message,
      fiberId,
      annotations: [...HashMap.toEntries(annotations)],
      spans: List.toArray(spans).map((span) => [span.label, span.startTime] as const),
      cause
    }, colour))
  )
