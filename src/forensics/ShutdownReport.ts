// Reading logs/lifecycle.jsonl back (CONTRACT 6, `hermes gateway report`): the records the kernel and
// its watchdogs append, a tolerant reader that starts from the end of the file (a crash can leave a
// torn line, an operator can leave anything), and a renderer that tells each life's end as a story.
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import { describeExitCode } from "../lifecycle/ExitCode.js"
import {
  type LoopStallRecord,
  ReportedRecord,
  reportedEvents,
  type ShutdownRecord,
  type StartRecord,
  type WatchdogRecord
} from "./LifecycleRecord.js"
import { describePreviousLife } from "./PreviousLife.js"

export {
  LifecycleRecord,
  LoopStallRecord,
  ReportedRecord,
  ShutdownPhase,
  ShutdownRecord,
  StartRecord,
  WatchdogRecord
} from "./LifecycleRecord.js"

/** Fields this version does not know are kept, so `--json` shows everything a record holds. */
const decodeRecord = Schema.decodeUnknownEither(ReportedRecord, { onExcessProperty: "preserve" })

const knownEvents: ReadonlySet<string> = new Set(reportedEvents)

// ---------------------------------------------------------------------------------------------
// Reading from the end

export interface LifecycleReading {
  /** Newest first. */
  readonly records: ReadonlyArray<ReportedRecord>
  /** The file does not exist (no life has been recorded in this home). */
  readonly missing: boolean
  /** Lines that were not JSON or not a record of a known event with its fields. */
  readonly skipped: number
  /** The first few reasons, for the operator. */
  readonly problems: ReadonlyArray<string>
  /** Records of events this version does not know (ignored, not counted as bad). */
  readonly otherEvents: number
  /** The scan stopped at `maxScanBytes` before reaching the start of the file. */
  readonly truncated: boolean
  /** The file could not be opened or read. */
  readonly error?: string
}

export interface ReadOptions {
  /** How many records to return; the reader stops scanning once it has them. */
  readonly limit?: number
  /** Only records whose event is listed. */
  readonly events?: ReadonlyArray<ReportedRecord["event"]>
  readonly chunkBytes?: number
  readonly maxScanBytes?: number
  /** A line longer than this is not one of ours: counted as bad without being buffered whole. */
  readonly maxLineBytes?: number
}

const NEWLINE = 0x0a

/**
 * Complete lines from the end of the file to its start. Newlines are split on bytes, which is safe
 * in UTF-8 (0x0A never occurs inside a multi-byte character). Over-long lines come out as null.
 */
function* linesFromEnd(
  fd: number,
  size: number,
  options: { chunkBytes: number; maxScanBytes: number; maxLineBytes: number },
  onTruncate: () => void
): Generator<Buffer | null> {
  let position = size
  let pieces: Array<Buffer> = []
  let pending = 0
  let oversized = false
  const take = (head: Buffer): Buffer | null => {
    const line = oversized ? null : Buffer.concat([head, ...pieces])
    pieces = []
    pending = 0
    oversized = false
    return line
  }
  while (position > 0) {
    if (size - position >= options.maxScanBytes) {
      onTruncate()
      return
    }
    const length = Math.min(options.chunkBytes, position)
    position -= length
    const chunk = Buffer.alloc(length)
    let got = 0
    while (got < length) {
      const n = fs.readSync(fd, chunk, got, length - got, position + got)
      if (n === 0) break
      got += n
    }
    let end = got
    for (let i = got - 1; i >= 0; i--) {
      if (chunk[i] === NEWLINE) {
        yield take(chunk.subarray(i + 1, end))
        end = i
      }
    }
    if (!oversized && end > 0) {
      pieces.unshift(chunk.subarray(0, end))
      pending += end
      if (pending > options.maxLineBytes) {
        oversized = true
        pieces = []
      }
    }
  }
  if (pending > 0 || oversized) yield take(Buffer.alloc(0))
}

type LineVerdict =
  | { readonly _tag: "Record"; readonly record: ReportedRecord }
  | { readonly _tag: "Blank" }
  | { readonly _tag: "Other" }
  | { readonly _tag: "Bad"; readonly reason: string }

/** One line of the log, classified. Pure, exported for tests. */
export const parseLifecycleLine = (line: string): LineVerdict => {
  if (line.trim() === "") return { _tag: "Blank" }
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return { _tag: "Bad", reason: `not JSON: ${JSON.stringify(line.length > 60 ? line.slice(0, 60) + "..." : line)}` }
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { _tag: "Bad", reason: "not a JSON object" }
  const event = (json as { event?: unknown }).event
  if (typeof event !== "string") return { _tag: "Bad", reason: "record without an event" }
  if (!knownEvents.has(event)) return { _tag: "Other" }
  const decoded = decodeRecord(json)
  if (Either.isLeft(decoded)) {
    const first = decoded.left.message.split("\n").slice(-1)[0]?.trim() ?? "unexpected shape"
    return { _tag: "Bad", reason: `${event} record with an unexpected shape (${first})` }
  }
  return { _tag: "Record", record: decoded.right }
}

/**
 * The newest records of lifecycle.jsonl, reading backwards in chunks so that asking for the last
 * five of a large file reads only its tail. Never throws: whatever goes wrong is in the result.
 */
export const readLifecycleLog = (file: string, options: ReadOptions = {}): LifecycleReading => {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  const wanted = options.events === undefined ? undefined : new Set<string>(options.events)
  const records: Array<ReportedRecord> = []
  const problems: Array<string> = []
  let skipped = 0
  let otherEvents = 0
  let truncated = false
  const result = (extra: Partial<LifecycleReading> = {}): LifecycleReading => ({
    records,
    missing: false,
    skipped,
    problems,
    otherEvents,
    truncated,
    ...extra
  })
  let fd: number
  try {
    // O_NOFOLLOW: the report never reads through a link planted at the log's name.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return result({ missing: true })
    return result({ error: `cannot open ${file}: ${error instanceof Error ? error.message : String(error)}` })
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) return result({ error: `${file} is not a regular file` })
    const lines = linesFromEnd(fd, stat.size, {
      chunkBytes: options.chunkBytes ?? 64 * 1024,
      maxScanBytes: options.maxScanBytes ?? 64 * 1024 * 1024,
      maxLineBytes: options.maxLineBytes ?? 1024 * 1024
    }, () => (truncated = true))
    for (const line of lines) {
      if (records.length >= limit) break
      const verdict = line === null
        ? { _tag: "Bad" as const, reason: "line too long to be a lifecycle record" }
        : parseLifecycleLine(line.toString("utf8"))
      switch (verdict._tag) {
        case "Record":
          if (wanted === undefined || wanted.has(verdict.record.event)) records.push(verdict.record)
          break
        case "Other":
          otherEvents++
          break
        case "Bad":
          skipped++
          if (problems.length < 3) problems.push(verdict.reason)
          break
        case "Blank":
          break
      }
    }
    return result()
  } catch (error) {
    return result({ error: `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}` })
  } finally {
    fs.closeSync(fd)
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

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
  const marker = record.marker ?? markerNoteOf(record.exit_reason)
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
