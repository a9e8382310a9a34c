// The machine-readable log formats (logfmt, JSON) as Effect writes them, without the fiber id on
// info lines and above: it means nothing to an operator reading a journal, and debug and trace
// lines keep it for following concurrent work (as the pretty format does).
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

const withoutFiberAboveDebug = (logger: Logger.Logger<unknown, string>, strip: (line: string) => string): Logger.Logger<unknown, string> =>
  Logger.make((options) => {
    const line = logger.log(options)
    return LogLevel.greaterThan(options.logLevel, LogLevel.Debug) ? strip(line) : line
  })

/** `timestamp=… level=INFO message=…`: Effect's logfmt puts `fiber=#N` right after the level. */
export const logfmtLine = withoutFiberAboveDebug(Logger.logfmtLogger, (line) => line.replace(/^(timestamp=\S+ level=\S+) fiber=\S*/, "$1"))

/** Effect's JSON line ends with the `fiberId` key. */
export const jsonLine = withoutFiberAboveDebug(Logger.jsonLogger, (line) => line.replace(/,"fiberId":"[^"]*"\}$/, "}"))
