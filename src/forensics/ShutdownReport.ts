// Reading logs/lifecycle.jsonl back (CONTRACT 6, `hermes gateway report`): the records the kernel and
// its watchdogs append, and a tolerant reader that starts from the end of the file (a crash can leave
// a torn line, an operator can leave anything). ShutdownReportText.ts tells each life's end as a story.
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import { ReportedRecord, reportedEvents } from "./LifecycleRecord.js"


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
