// The log levels an operator names (config `log.level`, $HERMES_LOG_LEVEL, `--log-level`).
import * as FiberRef from "effect/FiberRef"

export const logLevelNames = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const
export type LogLevelName = (typeof logLevelNames)[number]

/** `warn` is accepted as `warning`, as the config accepts it. */
export const parseLogLevelName = (text: string): LogLevelName | undefined => {
  const word = text.trim().toLowerCase()
  const name = word === "warn" ? "warning" : word
  return (logLevelNames as ReadonlyArray<string>).includes(name) ? (name as LogLevelName) : undefined
}

/**
 * The `--log-level` flag of this invocation, if given. Set once by the command line, read when
 * the logging layer is built: the flag wins over $HERMES_LOG_LEVEL, which wins over the config.
 */
export const logLevelFlag: FiberRef.FiberRef<LogLevelName | undefined> = FiberRef.unsafeMake<LogLevelName | undefined>(undefined)
