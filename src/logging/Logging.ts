// Log output for every command: one line per event on stderr (stdout is for command output),
// in the format and at the level the configuration asks for.
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

export type LogFormat = "auto" | "pretty" | "logfmt" | "json"
export type LogLevelName = "trace" | "debug" | "info" | "warning" | "error" | "fatal" | "none"

const levels: Record<LogLevelName, LogLevel.LogLevel> = {
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

export const loggingLayer = (format: LogFormat, level: LogLevelName): Layer.Layer<never> => {
  const resolved = resolveFormat(format, process.stderr.isTTY === true)
  const logger = resolved === "pretty"
    ? Logger.prettyLogger({ stderr: true, colors: "auto" })
    : Logger.withConsoleError(resolved === "json" ? Logger.jsonLogger : Logger.logfmtLogger)
  return Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(levels[level]))
}
