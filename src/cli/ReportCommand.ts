// `hermes gateway report [--last N] [--json]`: the last lifecycle records of a home, newest first
// (CONTRACT 6, 8): shutdown reports, watchdog exits and each start's verdict on the life before it.
// Read-only and exit 0 even when nothing was recorded: a report about nothing is still an answer.
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { readLifecycleLog } from "../forensics/ShutdownReport.js"
import { homeOption, resolvePaths } from "./HomeOption.js"
import { UsageError } from "./UsageError.js"

export const defaultReportCount = 5

export const reportCommand = Command.make("report", {
  home: homeOption,
  last: Options.integer("last").pipe(
    Options.withDescription(`how many records to show, newest first (default ${defaultReportCount})`),
    Options.withDefault(defaultReportCount)
  ),
  json: Options.boolean("json").pipe(Options.withDescription("print the records as a JSON array"))
}, ({ home, json, last }) =>
  Effect.gen(function*() {
    if (last < 1) return yield* new UsageError({ message: `--last: expected a positive number, got ${last}` })
    const paths = yield* resolvePaths(home)
    const reading = readLifecycleLog(paths.lifecycleLog, { limit: last })
    if (json) {
      process.stdout.write(JSON.stringify(reading.records, null, 2) + "\n")
      // stdout stays a clean JSON array for tools; what a human should know goes to stderr.
      if (reading.error !== undefined) process.stderr.write(`hermes: ${reading.error}\n`)
      if (reading.skipped > 0) process.stderr.write(`hermes: ${reading.skipped} unreadable line(s) in ${paths.lifecycleLog} skipped\n`)
      return
    }
    // The text renderer is loaded only here: `gateway run` never evaluates it.
    const { renderReport } = yield* Effect.promise(() => import("../forensics/ShutdownReportText.js"))
    process.stdout.write(renderReport(reading, { file: paths.lifecycleLog, nowMs: yield* Clock.currentTimeMillis }))
  })).pipe(Command.withDescription(
    "Show how the gateway's last lives ended: shutdown reports (signal, classification, phases, exit " +
      "code), watchdog exits, and whether each start found that the previous life had shut down cleanly."
  ))
