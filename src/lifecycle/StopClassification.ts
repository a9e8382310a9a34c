// Pure decisions about a stop (CONTRACT 3.2): is a planned-stop marker valid for us, what does an
// arriving signal mean, what does a later one do, and how does the gateway end. No I/O here.
import type { PlannedStopDocument } from "../home/PlannedStopFile.js"
import type { ProcessIdentity } from "../home/ProcessIdentity.js"
import { ExitCode } from "./ExitCode.js"

export type StopSignal = "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGUSR1"

/** Where a stop request came from. Signals are data; nothing is inferred from the environment. */
export type StopRequest =
  | { readonly _tag: "Signal"; readonly signal: StopSignal }
  /** Asked from inside, e.g. the chat command /restart; `by` names who asked. */
  | { readonly _tag: "Control"; readonly action: "stop" | "restart"; readonly by: string }

export type Classification = "planned" | "restart" | "unplanned"

export type MarkerReading =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Valid"; readonly value: PlannedStopDocument }

/** What the marker means to this process, and what to do with the file. */
export interface MarkerVerdict {
  readonly applies: PlannedStopDocument["action"] | null
  /** consume: delete it, it was ours (or is garbage / expired); keep: it names another live incarnation. */
  readonly file: "consume" | "keep" | "none"
  readonly note: string
}

/** Markers stamped a little in the future (clock skew between stopper and gateway) are accepted. */
export const markerClockSkewMs = 5_000

export const evaluateMarker = (
  reading: MarkerReading,
  self: ProcessIdentity,
  nowMs: number,
  ttlMs: number
): MarkerVerdict => {
  switch (reading._tag) {
    case "Missing":
      return { applies: null, file: "none", note: "absent" }
    case "Invalid":
      return { applies: null, file: "consume", note: `unreadable (${reading.reason}); treated as absent` }
    case "Valid": {
      const marker = reading.value
      const writtenAt = Date.parse(marker.written_at)
      const age = nowMs - writtenAt
      const fresh = Number.isFinite(writtenAt) && age <= ttlMs && age >= -markerClockSkewMs
      const namesSelf = marker.target_pid === self.pid && marker.target_start_time === self.startTime
      if (namesSelf && fresh) return { applies: marker.action, file: "consume", note: `names self, action ${marker.action}` }
      if (namesSelf) return { applies: null, file: "consume", note: "names self but expired; treated as absent" }
      if (fresh) return { applies: null, file: "keep", note: `names another process (pid ${marker.target_pid}); left alone` }
      return { applies: null, file: "consume", note: `names another process (pid ${marker.target_pid}) and expired; removed` }
    }
  }
}

/** The classification of a first stop request. */
export const classify = (request: StopRequest, marker: MarkerVerdict): Classification => {
  if (request._tag === "Control") return request.action === "restart" ? "restart" : "planned"
  switch (request.signal) {
    case "SIGINT":
      return "planned"
    case "SIGUSR1":
      return "restart"
    case "SIGTERM":
    case "SIGHUP":
      return marker.applies === "stop" ? "planned" : marker.applies === "restart" ? "restart" : "unplanned"
  }
}

/** Only these signals need the marker read; SIGINT and SIGUSR1 mean the same whatever it says. */
export const needsMarker = (request: StopRequest): boolean =>
  request._tag === "Signal" && (request.signal === "SIGTERM" || request.signal === "SIGHUP")

/**
 * What a request does given what came before. The first decision sticks; a later
 * SIGTERM/SIGINT/SIGHUP forces the shutdown along; a later SIGUSR1 or control request is ignored.
 */
export const followUp = (request: StopRequest): "force" | "ignore" =>
  request._tag === "Signal" && request.signal !== "SIGUSR1" ? "force" : "ignore"

/**
 * The classification after a later request whose own classification is `later`. The first
 * decision sticks (a marker written after an unplanned signal does not make it planned; a planned
 * stop stays planned when a restart or the supervisor's SIGTERM follows), with one exception: the
 * last planned stop wins over a restart, so a stop asked while a restart drains is a stop.
 */
export const settle = (current: Classification, later: Classification): Classification =>
  current === "restart" && later === "planned" ? "planned" : current

/**
 * Whether a later request must be classified at all (its marker read and consumed): only while the
 * decision is a restart, which a planned stop may still override.
 */
export const laterRequestMatters = (current: Classification): boolean => current === "restart"

export interface ExitVerdict {
  readonly exitCode: ExitCode
  readonly gatewayState: "stopped" | "running"
  readonly desiredState: "stopped" | "running"
  readonly restartRequested: boolean
}

/**
 * How a gateway that was asked to stop ends (CONTRACT 3.2). An unplanned stop keeps
 * gateway_state=running: the run-intent survives so a container restart brings it back.
 */
export const exitVerdict = (classification: Classification): ExitVerdict => {
  switch (classification) {
    case "planned":
      return { exitCode: ExitCode.PlannedStop, gatewayState: "stopped", desiredState: "stopped", restartRequested: false }
    case "restart":
      return { exitCode: ExitCode.Restart, gatewayState: "stopped", desiredState: "running", restartRequested: true }
    case "unplanned":
      return { exitCode: ExitCode.UnplannedStop, gatewayState: "running", desiredState: "running", restartRequested: false }
  }
}

export const describeRequest = (request: StopRequest): string =>
  request._tag === "Signal" ? request.signal : `control:${request.action} (${request.by})`
