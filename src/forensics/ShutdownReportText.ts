// The text of `hermes gateway report` (CONTRACT 6): each life's end told as a story, from the
// records ShutdownReport.ts reads back from logs/lifecycle.jsonl.
import { describeExitCode } from "../lifecycle/ExitCode.js"
import type { LoopStallRecord, ReportedRecord, ShutdownRecord, StartRecord, WatchdogRecord } from "./LifecycleRecord.js"
import type { LifecycleReading } from "./ShutdownReport.js"
import { describePreviousLife } from "./PreviousLife.js"

/** The meaning of each code comes from the one table (ExitCode.ts). */
export { describeExitCode }

/** `1.234s`, `850ms`, `2min 5s`: short enough to line up in a column. */
export const formatMillis = (ms: number): string => {
  if (!Number.isFinite(ms)) return "?"
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)}s`
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor(s / 60) % 60
  return `${h > 0 ? `${h}h ` : ""}${m}min ${s % 60}s`
}

/** "3h ago", for a reader who wants to know whether this was today's incident. */
export const formatAgo = (at: string, nowMs: number): string => {
  const then = Date.parse(at)
  if (!Number.isFinite(then)) return "at an unreadable time"
  const s = Math.round((nowMs - then) / 1000)
  if (s < 0) return "in the future (clock skew?)"
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}min ago`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86_400)}d ago`
}

/** Records written before the `marker` field packed the verdict into exit_reason: "planned stop (SIGTERM; marker names self, action stop)". */
const markerNoteOf = (exitReason: string | null | undefined): string | undefined => {
  const match = exitReason == null ? null : /; marker (.*)\)$/.exec(exitReason)
  return match?.[1]
}

/** Why the gateway classified its stop the way it did, in words. */
export const explainClassification = (record: ShutdownRecord): string => {
  const signal = record.signal
  const marker = record.marker ?? markerNoteOf(record.exit_reason) ?? undefined
  const markerText = marker !== undefined ? ` (planned-stop marker: ${marker})` : ""
  switch (record.classification) {
    case "planned":
      if (signal === "SIGINT") return "Ctrl+C (SIGINT) is always a planned stop"
      if (signal?.startsWith("control:") === true) return "a stop request over the control channel"
      return `a stopper announced it: a fresh planned-stop marker named this process${markerText}`
    case "restart":
      if (signal === "SIGUSR1") return "SIGUSR1 asks for a restart"
      if (signal?.startsWith("control:") === true) return "a restart request over the control channel"
      return `a stopper announced a restart: the planned-stop marker named this process with action restart${markerText}`
    case "unplanned":
      return `${signal ?? "a signal"} arrived with no valid planned-stop marker${markerText}: ` +
        "a plain kill, docker stop, a Kubernetes eviction, or a supervisor stopping it without the stop hook"
    case "startup_failed":
      return record.exit_reason ?? "start-up failed"
    default:
      return record.exit_reason ?? "no reason recorded"
  }
}

const deadlineText = (fired: string | null): string => {
  switch (fired) {
    case null:
      return "no deadline fired"
    case "drain":
      return "the drain deadline fired: turns still running were interrupted"
    case "forced":
      return "a second signal forced the shutdown: the drain ended at once"
    case "hard":
      return "the hard deadline fired"
    default:
      return `deadline fired: ${fired}`
  }
}

const renderShutdown = (record: ShutdownRecord, nowMs: number): Array<string> => {
  const lines = [
    `${record.at} (${formatAgo(record.at, nowMs)})  SHUTDOWN ${record.classification} by ${record.signal ?? "no signal"}, ${describeExitCode(record.exit_code)}`,
    `  why: ${explainClassification(record)}`,
    `  took ${formatMillis(record.took_ms)}; turns drained ${record.turns_drained}, interrupted ${record.turns_interrupted}; ${deadlineText(record.deadline_fired)}`
  ]
  if (record.exit_reason != null && record.classification !== "startup_failed") lines.push(`  exit reason: ${record.exit_reason}`)
  if (record.phases.length === 0) {
    lines.push("  phases: none recorded")
    return lines
  }
  const slowest = record.phases.reduce((a, b) => (b.took_ms > a.took_ms ? b : a))
  const width = Math.max(...record.phases.map((p) => p.name.length))
  lines.push("  phases (start offset, duration, outcome):")
  for (const phase of record.phases) {
    const mark = phase === slowest && record.phases.length > 1 ? "   <- slowest" : ""
    const outcome = phase.outcome === "ok" ? "ok" : phase.outcome.toUpperCase()
    const detail = phase.detail !== undefined ? ` (${phase.detail})` : ""
    lines.push(
      `    ${`+${formatMillis(phase.started_at_ms)}`.padStart(9)}  ${phase.name.padEnd(width)}  ${formatMillis(phase.took_ms).padStart(8)}  ${outcome}${detail}${mark}`
    )
  }
  return lines
}

const renderWatchdog = (record: WatchdogRecord, nowMs: number): Array<string> => [
  `${record.at} (${formatAgo(record.at, nowMs)})  WATCHDOG hard shutdown deadline of ${formatMillis(record.deadline_ms)} passed in phase ${record.phase}, ${describeExitCode(record.exit_code)}`,
  `  the shutdown began at ${record.armed_at}` +
  (record.signal !== undefined ? ` (${record.signal}` + (record.classification !== undefined ? `, ${record.classification})` : ")") : "") +
  `; teardown was still in ${record.phase} when the watchdog ended the process, so no shutdown report was written`
]

const renderLoopStall = (record: LoopStallRecord, nowMs: number): Array<string> => [
  `${record.at} (${formatAgo(record.at, nowMs)})  LOOP STALL event loop unresponsive for ${formatMillis(record.stalled_ms)} (limit ${formatMillis(record.stall_timeout_ms)}), ${describeExitCode(record.exit_code)}`,
  record.report !== null
    ? `  diagnostic report (${record.report_view ?? "main"} thread's view): ${record.report}`
    : `  no diagnostic report${record.report_error !== undefined ? `: ${record.report_error}` : ""}`
]

const renderStart = (record: StartRecord, nowMs: number): Array<string> => {
  const lines = [`${record.at} (${formatAgo(record.at, nowMs)})  START pid ${record.pid}`]
  if (record.previous_life !== undefined) {
    const order = record.previous_life.verdict === "died_without_shutdown" ? "  !! " : "  "
    lines.push(`${order}${describePreviousLife(record.previous_life)}`)
  }
  return lines
}

export const renderRecord = (record: ReportedRecord, nowMs: number): string => {
  switch (record.event) {
    case "shutdown":
      return renderShutdown(record, nowMs).join("\n")
    case "watchdog":
      return renderWatchdog(record, nowMs).join("\n")
    case "loop_stall":
      return renderLoopStall(record, nowMs).join("\n")
    case "start":
      return renderStart(record, nowMs).join("\n")
  }
}

/** The whole text of `hermes gateway report`. */
export const renderReport = (reading: LifecycleReading, options: { readonly file: string; readonly nowMs: number }): string => {
  const out: Array<string> = []
  if (reading.error !== undefined) out.push(`cannot read the lifecycle log: ${reading.error}`)
  if (reading.records.length === 0) {
    out.push(
      reading.missing
        ? `no shutdown reports yet: ${options.file} does not exist (this home has not run a gateway)`
        : `no shutdown reports in ${options.file}`
    )
  } else {
    out.push(`${reading.records.length} most recent lifecycle record(s) from ${options.file}, newest first:`)
    for (const record of reading.records) out.push("", renderRecord(record, options.nowMs))
  }
  if (reading.skipped > 0) {
    out.push("", `${reading.skipped} unreadable line(s) skipped, e.g. ${reading.problems.join("; ")}`)
  }
  if (reading.truncated) out.push("(stopped scanning: the log is larger than the scan limit)")
  return out.join("\n") + "\n"
}
