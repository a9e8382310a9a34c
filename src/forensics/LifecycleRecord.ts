// The records of logs/lifecycle.jsonl, defined once: the kernel and the restart parent write a record
// by encoding it with these Schemas, and `report`, start-up forensics and metrics read it back through
// them, so what is written is what can be read. (The watchdog worker thread has no Effect runtime and
// writes its two records by hand; WatchdogRecord and LoopStallRecord describe them.) Numbers are
// JsonNumber: JSON cannot carry NaN or Infinity, so such a value fails the write instead of leaving a
// line that no reader accepts.
import * as Schema from "effect/Schema"
import { ShutdownSummary } from "../home/GatewayStateFile.js"
import { PreviousLifeRecord } from "./PreviousLife.js"
import { Snapshot } from "./Snapshot.js"

/** One step of a shutdown, as `runPhase` in the kernel records it. */
export const ShutdownPhase = Schema.Struct({
  name: Schema.String,
  started_at_ms: Schema.JsonNumber,
  took_ms: Schema.JsonNumber,
  outcome: Schema.Literal("ok", "timeout", "failed", "skipped"),
  detail: Schema.optional(Schema.String)
})
export type ShutdownPhase = typeof ShutdownPhase.Type

/** The life that wrote a record (absent from records of early versions). */
const writtenBy = {
  pid: Schema.optional(Schema.JsonNumber),
  start_time: Schema.optional(Schema.String)
}

/** A watchdog's last words: when, and the code it ended the process with. */
const lastWords = {
  at: Schema.String,
  exit_code: Schema.JsonNumber,
  ...writtenBy
}

/** The shutdown report: the state file's summary (the marker's verdict included) plus why it ended and every phase. */
export const ShutdownRecord = Schema.Struct({
  ...ShutdownSummary.fields,
  event: Schema.Literal("shutdown"),
  ...writtenBy,
  exit_reason: Schema.optional(Schema.NullOr(Schema.String)),
  phases: Schema.optionalWith(Schema.Array(ShutdownPhase), { default: () => [] }),
  /** The forensic snapshot taken when the stop arrived. */
  context: Schema.optional(Snapshot),
  /** Log lines dropped because stderr could not take them (a full pipe, a closed terminal). */
  log_writes_dropped: Schema.optional(Schema.JsonNumber)
})
export type ShutdownRecord = typeof ShutdownRecord.Type

/** The hard-deadline watchdog's last words (exit 70); the arm record's fields come along. */
export const WatchdogRecord = Schema.Struct({
  event: Schema.Literal("watchdog"),
  deadline_fired: Schema.String,
  deadline_ms: Schema.JsonNumber,
  phase: Schema.String,
  armed_at: Schema.String,
  ...lastWords,
  signal: Schema.optional(Schema.String),
  classification: Schema.optional(Schema.String)
})
export type WatchdogRecord = typeof WatchdogRecord.Type

/** The event-loop watchdog's last words (exit 75). */
export const LoopStallRecord = Schema.Struct({
  event: Schema.Literal("loop_stall"),
  ...lastWords,
  stall_timeout_ms: Schema.JsonNumber,
  stalled_ms: Schema.JsonNumber,
  last_heartbeat_at: Schema.optional(Schema.String),
  report: Schema.NullOr(Schema.String),
  report_view: Schema.optional(Schema.NullOr(Schema.String)),
  report_error: Schema.optional(Schema.String)
})
export type LoopStallRecord = typeof LoopStallRecord.Type

export const StartRecord = Schema.Struct({
  event: Schema.Literal("start"),
  at: Schema.String,
  pid: Schema.JsonNumber,
  start_time: Schema.optional(Schema.String),
  argv: Schema.optional(Schema.Array(Schema.String)),
  previous_life: Schema.optional(PreviousLifeRecord)
})
export type StartRecord = typeof StartRecord.Type

const TurnCount = Schema.NonNegativeInt

/** What crash recovery found when the session database was opened (sessions/CrashRecovery.ts). */
export const SessionDbRecoveryRecord = Schema.Struct({
  event: Schema.Literal("session_db_recovery"),
  at: Schema.String,
  file: Schema.String,
  engine: Schema.Literal("node:sqlite", "node-sqlite3-wasm", "postgresql"),
  previous_life_crashed: Schema.Boolean,
  integrity: Schema.String,
  moved_aside: Schema.NullOr(Schema.Struct({
    reason: Schema.String,
    moved_to: Schema.String,
    files: Schema.Array(Schema.String)
  })),
  removed_stale_lock: Schema.Boolean,
  /** Turns a dead life left running, by what recovery made of them. */
  turns_interrupted: TurnCount,
  turns_resume_pending: TurnCount,
  turns_failed: TurnCount,
  sessions_suspended: Schema.Array(Schema.String),
  took_ms: Schema.JsonNumber
})
export type SessionDbRecoveryRecord = typeof SessionDbRecoveryRecord.Type

/** A planned stop reached the restart parent during the hand-off and won over the restart. */
export const RestartCancelledRecord = Schema.Struct({
  event: Schema.Literal("restart_cancelled"),
  at: Schema.String,
  pid: Schema.JsonNumber,
  start_time: Schema.optional(Schema.String),
  successor_pid: Schema.NullOr(Schema.JsonNumber),
  exit_code: Schema.JsonNumber,
  exit_reason: Schema.String
})
export type RestartCancelledRecord = typeof RestartCancelledRecord.Type

/** Every record this version writes. */
export const LifecycleRecord = Schema.Union(
  StartRecord,
  ShutdownRecord,
  WatchdogRecord,
  LoopStallRecord,
  SessionDbRecoveryRecord,
  RestartCancelledRecord
)
export type LifecycleRecord = typeof LifecycleRecord.Type

/** The records `hermes gateway report` tells as a story; the others are counted as other events. */
export const ReportedRecord = Schema.Union(ShutdownRecord, WatchdogRecord, LoopStallRecord, StartRecord)
export type ReportedRecord = typeof ReportedRecord.Type
export const reportedEvents: ReadonlyArray<ReportedRecord["event"]> = ["shutdown", "watchdog", "loop_stall", "start"]

const encodeRecord = Schema.encodeSync(Schema.parseJson(LifecycleRecord))

/** One line of logs/lifecycle.jsonl: the record encoded by its Schema. Throws only on a value no Schema accepts. */
export const lifecycleLine = (record: LifecycleRecord): string => encodeRecord(record) + "\n"
