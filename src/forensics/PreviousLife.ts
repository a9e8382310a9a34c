// How the previous life of this home ended, told at start-up (CONTRACT 5): in order, killed without
// shutting down (SIGKILL, OOM, power loss, a watchdog), or unknown. The verdict is a pure function of
// what the files and the kernel log said; only `readKernelLogTail` does I/O, bounded and optional.
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { FileReading } from "../home/AtomicFile.js"
import type { CleanShutdownDocument } from "../home/CleanShutdownFile.js"
import { claimsAlive, type GatewayStateDocument } from "../home/GatewayStateFile.js"
import type { PidFileDocument } from "../home/PidFile.js"
import { runBounded } from "../supervision/CommandOutput.js"

export const PreviousLifeVerdict = Schema.Literal("ended_in_order", "died_without_shutdown", "first_start_or_unknown")
export type PreviousLifeVerdict = typeof PreviousLifeVerdict.Type

/** What a watchdog record in logs/lifecycle.jsonl says ended the previous life. */
export const WatchdogExit = Schema.Literal("hard_deadline", "loop_stall")
export type WatchdogExit = typeof WatchdogExit.Type

/** The `previous_life` field of a `start` record in logs/lifecycle.jsonl. */
export const PreviousLifeRecord = Schema.Struct({
  verdict: Schema.String,
  pid: Schema.optional(Schema.NullOr(Schema.JsonNumber)),
  classification: Schema.optional(Schema.String),
  last_state: Schema.optional(Schema.String),
  last_update: Schema.optional(Schema.String),
  uptime_ms: Schema.optional(Schema.JsonNumber),
  suspected_oom: Schema.optional(Schema.Boolean),
  oom_evidence: Schema.optional(Schema.String),
  watchdog: Schema.optional(WatchdogExit),
  notes: Schema.optional(Schema.Array(Schema.String))
})
export type PreviousLifeRecord = typeof PreviousLifeRecord.Type

export interface PreviousLife {
  readonly verdict: PreviousLifeVerdict
  readonly pid?: number
  /** From .clean_shutdown: how the orderly shutdown was classified. */
  readonly classification?: string
  readonly last_state?: string
  readonly last_update?: string
  /** From the previous gateway.pid's started_at to its last sign of life. */
  readonly uptime_ms?: number
  /** The kernel log names the previous pid in an OOM kill. */
  readonly suspected_oom: boolean
  readonly oom_evidence?: string
  /** A watchdog of the previous life wrote its record before ending it. */
  readonly watchdog?: WatchdogExit
  /** Files that were present but unreadable, each treated as absent. */
  readonly notes?: ReadonlyArray<string>
}

/** The slice of a lifecycle record this module looks at; any record of the log fits. */
export interface LifecycleTrace {
  readonly event: string
  readonly pid?: number | null
  readonly start_time?: string | null
}

export interface PreviousLifeInput {
  /** .clean_shutdown as consumed at start-up. */
  readonly cleanShutdown: FileReading<CleanShutdownDocument>
  /** gateway_state.json before this life writes its own. */
  readonly previousState: FileReading<GatewayStateDocument>
  /** gateway.pid before this life replaces it (read it before writePid); gives the uptime. */
  readonly previousPidFile?: FileReading<PidFileDocument>
  readonly self: { readonly pid: number; readonly startTime?: string }
  /** Recent tail of the kernel log (`dmesg`), when it could be read. */
  readonly kernelLogTail?: string
  /** Recent lifecycle records (any order), to recognise an exit by one of our own watchdogs. */
  readonly recentRecords?: ReadonlyArray<LifecycleTrace>
}

const oomPatterns: ReadonlyArray<RegExp> = [
  // "Out of memory: Killed process 1234 (node)", "Memory cgroup out of memory: Killed process 1234",
  // older kernels "Out of memory: Kill process 1234 (node) score 900 or sacrifice child"
  /\bKill(?:ed)? process (\d+)\b/,
  // "oom-kill:constraint=CONSTRAINT_NONE,...,task=node,pid=1234,uid=1000"
  /\boom-kill:.*\bpid=(\d+)\b/,
  // "oom_reaper: reaped process 1234 (node), now anon-rss:0kB"
  /\boom_reaper: reaped process (\d+)\b/
]

/**
 * The kernel log line that names `pid` as killed for lack of memory, if any. Kernel pids are
 * the host's: inside a container with its own pid namespace this finds nothing (and dmesg is
 * usually denied there anyway), so "false" means "no evidence", never "not OOM".
 */
export const findOomKill = (kernelLog: string, pid: number): string | undefined => {
  for (const line of kernelLog.split("\n").reverse()) {
    for (const pattern of oomPatterns) {
      const match = pattern.exec(line)
      if (match !== null && Number(match[1]) === pid) return line.trim()
    }
  }
  return undefined
}

const isOurs = (state: GatewayStateDocument, self: PreviousLifeInput["self"]): boolean =>
  state.pid === self.pid && (state.start_time === null || self.startTime === undefined || state.start_time === self.startTime)

const millisBetween = (from: string, to: string): number | undefined => {
  const ms = Date.parse(to) - Date.parse(from)
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

export const previousLifeVerdict = (input: PreviousLifeInput): PreviousLife => {
  const notes: Array<string> = []
  if (input.cleanShutdown._tag === "Invalid") notes.push(input.cleanShutdown.reason)
  if (input.previousState._tag === "Invalid") notes.push(input.previousState.reason)
  if (input.previousPidFile?._tag === "Invalid") notes.push(input.previousPidFile.reason)
  const state = input.previousState._tag === "Valid" && !isOurs(input.previousState.value, input.self)
    ? input.previousState.value
    : undefined
  const startOf = (pid: number, startTime: string | null | undefined): string | undefined => {
    const file = input.previousPidFile
    if (file?._tag !== "Valid" || file.value.pid !== pid) return undefined
    if (startTime !== null && startTime !== undefined && file.value.start_time !== startTime) return undefined
    return file.value.started_at
  }
  const watchdogOf = (pid: number, startTime: string | null | undefined): WatchdogExit | undefined => {
    const record = (input.recentRecords ?? []).find((r) =>
      (r.event === "watchdog" || r.event === "loop_stall") && r.pid === pid &&
      (startTime === null || startTime === undefined || r.start_time === undefined || r.start_time === null ||
        r.start_time === startTime)
    )
    return record === undefined ? undefined : record.event === "loop_stall" ? "loop_stall" : "hard_deadline"
  }
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
  const withNotes = notes.length > 0 ? { notes } : {}

  if (input.cleanShutdown._tag === "Valid") {
    const clean = input.cleanShutdown.value
    const started = startOf(clean.pid, clean.start_time)
    const sameState = state !== undefined && state.pid === clean.pid ? state : undefined
    return {
      verdict: "ended_in_order",
      pid: clean.pid,
      classification: clean.classification,
      ...optional("last_state", sameState?.gateway_state),
      ...optional("last_update", sameState?.updated_at),
      ...optional("uptime_ms", started === undefined ? undefined : millisBetween(started, clean.written_at)),
      suspected_oom: false,
      // An orderly shutdown that overran its hard deadline still wrote .clean_shutdown first.
      ...optional("watchdog", watchdogOf(clean.pid, clean.start_time)),
      ...withNotes
    }
  }
  // .clean_shutdown may be missing although the life ended in order (a full disk refused the
  // marker): its own shutdown report in lifecycle.jsonl says so.
  const reported = state === undefined || state.pid === null
    ? undefined
    : (input.recentRecords ?? []).find((r) =>
      r.event === "shutdown" && r.pid === state.pid && (r.start_time === undefined || r.start_time === state.start_time)
    )
  if (state !== undefined && reported !== undefined) {
    const started = state.pid === null ? undefined : startOf(state.pid, state.start_time)
    return {
      verdict: "ended_in_order",
      pid: state.pid!,
      ...optional("classification", (reported as { classification?: string }).classification),
      last_state: state.gateway_state,
      last_update: state.updated_at,
      ...optional("uptime_ms", started === undefined ? undefined : millisBetween(started, state.updated_at)),
      suspected_oom: false,
      notes: [...notes, ".clean_shutdown was missing, but the shutdown report in logs/lifecycle.jsonl shows an orderly end"]
    }
  }
  if (state !== undefined && claimsAlive(state.gateway_state)) {
    const pid = state.pid ?? undefined
    const started = pid === undefined ? undefined : startOf(pid, state.start_time)
    const watchdog = pid === undefined ? undefined : watchdogOf(pid, state.start_time)
    const oom = pid === undefined || input.kernelLogTail === undefined ? undefined : findOomKill(input.kernelLogTail, pid)
    return {
      verdict: "died_without_shutdown",
      ...optional("pid", pid),
      last_state: state.gateway_state,
      last_update: state.updated_at,
      ...optional("uptime_ms", started === undefined ? undefined : millisBetween(started, state.updated_at)),
      suspected_oom: oom !== undefined,
      ...optional("oom_evidence", oom),
      ...optional("watchdog", watchdog),
      ...withNotes
    }
  }
  return { verdict: "first_start_or_unknown", suspected_oom: false, ...withNotes }
}

const formatSpan = (ms: number): string => {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "min"], [s % 60, "s"]] as const
  return parts.filter(([n]) => n > 0).map(([n, unit]) => `${n}${unit}`).join(" ")
}

/** What the clean shutdown followed: a clean shutdown after an unplanned stop is no contradiction. */
const stopKind = (classification: string | undefined): string =>
  classification === undefined
    ? ""
    : classification === "restart"
    ? " for a restart"
    : ` after ${/^[aeiou]/.test(classification) ? "an" : "a"} ${classification} stop`

/** One sentence for the start-up log and the report. */
export const describePreviousLife = (life: PreviousLifeRecord | PreviousLife): string => {
  const pid = life.pid !== undefined && life.pid !== null ? ` (pid ${life.pid})` : ""
  const uptime = life.uptime_ms !== undefined ? `, up ${formatSpan(life.uptime_ms)}` : ""
  switch (life.verdict) {
    case "ended_in_order":
      return `previous life${pid} shut down cleanly` + stopKind(life.classification) + uptime +
        (life.watchdog === "hard_deadline" ? "; its teardown overran the hard deadline and the watchdog ended it (exit 70)" : "")
    case "died_without_shutdown": {
      const last = life.last_state !== undefined ? `, last state ${life.last_state} at ${life.last_update ?? "?"}` : ""
      const cause = life.watchdog === "loop_stall"
        ? "the event-loop watchdog ended it after a stall (exit 75)"
        : life.watchdog === "hard_deadline"
        ? "the shutdown watchdog ended it (exit 70)"
        : life.suspected_oom === true
        ? `the kernel log shows an OOM kill: ${life.oom_evidence ?? "pid named"}`
        : "killed (SIGKILL), OOM or power loss"
      return `previous life${pid} died without shutting down${last}${uptime}: ${cause}`
    }
    default:
      return "no previous life recorded (first start, or its state file was absent or unreadable)"
  }
}

/**
 * The last `lines` lines of the kernel log, or undefined when dmesg is missing, denied
 * (kernel.dmesg_restrict, containers) or slower than `timeoutMs`. Never fails.
 */
export const readKernelLogTail = (
  options: { readonly timeoutMs?: number; readonly lines?: number } = {}
): Effect.Effect<string | undefined, never, CommandExecutor> =>
  runBounded("dmesg", [], Duration.millis(options.timeoutMs ?? 1000), { LC_ALL: "C" }).pipe(
    Effect.map((finished) => {
      if (Option.isNone(finished) || finished.value.exitCode !== 0) return undefined
      const all = finished.value.stdout.split("\n")
      if (all[all.length - 1] === "") all.pop()
      return all.slice(-(options.lines ?? 200)).join("\n")
    }),
    Effect.catchAll(() => Effect.succeed(undefined))
  )
