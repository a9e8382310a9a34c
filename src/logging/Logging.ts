// Log output for every command: one line per event on stderr (stdout is for command output),
// in the format and at the level the configuration asks for (`--log-level` wins over both).
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { jsonLine, logfmtLine } from "./LineFormats.js"
import { logLevelFlag, type LogLevelName } from "./LogLevelName.js"
import { prettyLogger, wantsColour } from "./PrettyLogger.js"

export type { LogLevelName } from "./LogLevelName.js"
export type LogFormat = "auto" | "pretty" | "logfmt" | "json"

export const levels: Record<LogLevelName, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/** `auto` is pretty on a terminal and logfmt otherwise (files, journald, supervisors). */
export const resolveFormat = (format: LogFormat, stderrIsTty: boolean): Exclude<LogFormat, "auto"> =>
  format === "auto" ? (stderrIsTty ? "pretty" : "logfmt") : format

/** The level in force: the flag if given, else what the config resolved (its file, then the env). */
export const effectiveLevel = (flag: LogLevelName | undefined, configured: LogLevelName): LogLevelName => flag ?? configured

export const loggingLayer = (format: LogFormat, level: LogLevelName): Layer.Layer<never> =>
  Layer.unwrapEffect(Effect.map(FiberRef.get(logLevelFlag), (flag) => {
    const isTty = process.stderr.isTTY === true
    const resolved = resolveFormat(format, isTty)
    const logger = resolved === "pretty"
      ? prettyLogger((text) => process.stderr.write(text), wantsColour(isTty, process.env))
      // Straight to stderr, like the pretty logger: the CLI's console rewrites what @effect/cli
      // prints as usage errors and must never touch a log line.
      : Logger.map(resolved === "json" ? jsonLine : logfmtLine, (line) => void process.stderr.write(line + "\n"))
    return Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(levels[effectiveLevel(flag, level)]))
  }))
