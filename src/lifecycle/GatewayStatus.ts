// What a gateway life knows about itself at one instant: the lifecycle state plus the numbers that
// change under it (turns in flight, platform health) and, at the end, the shutdown summary. The
// state file and systemd's STATUS= are pure projections of it (written by StatusFollowers.ts).
import * as Option from "effect/Option"
import type { GatewayStateDocument, ShutdownSummary } from "../home/GatewayStateFile.js"
import { classificationOf, type LifecycleState, initial } from "./LifecycleState.js"
import { exitVerdict } from "./StopClassification.js"
import type { StorageHealth } from "../sessions/SessionDb.js"

export interface PlatformEntry {
  readonly state: string
  readonly error: string | null
  readonly [detail: string]: string | number | boolean | null
}

export interface GatewayStatus {
  readonly lifecycle: LifecycleState
  readonly activeTurns: number
  readonly platforms: Readonly<Record<string, PlatformEntry>>
  /** Set by the final step, with the shutdown summary. */
  readonly exitReason: string | null
  readonly shutdown: ShutdownSummary | null
  /** Set once the session database is open, when it is shared by replicas (PostgreSQL). */
  readonly replicaId: string | null
  readonly storage: StorageHealth | null
}

export const initialStatus: GatewayStatus = {
  lifecycle: initial,
  activeTurns: 0,
  platforms: {},
  exitReason: null,
  shutdown: null,
  replicaId: null,
  storage: null
}

/**
 * Platforms after the disconnect step: every connected one is now disconnected; one that never
 * connected keeps its "failed" state and error for the operator. Applied by the final step, so the
 * shutdown writes the state file no more often than it has steps to tell.
 */
export const disconnected = (platforms: GatewayStatus["platforms"]): GatewayStatus["platforms"] =>
  Object.fromEntries(
    Object.entries(platforms).map(([name, p]) => [name, p.state === "connected" ? { ...p, state: "disconnected", error: null } : p])
  )

/** Who this life is, for the parts of the state file that never change. */
export interface StatusIdentity {
  readonly pid: number
  readonly startTime: string
  readonly supervisor: GatewayStateDocument["supervisor"]
}

/**
 * The state file for a status, without updated_at. None while there is nothing new to say: between
 * the stop request and the clean-shutdown marker (the file keeps saying running or starting, so the
 * marker is the first thing a shutdown writes), and in Stopped until the summary is known.
 */
export const stateDocument = (
  status: GatewayStatus,
  identity: StatusIdentity
): Option.Option<Omit<GatewayStateDocument, "updated_at">> => {
  const base = {
    desired_state: "running" as const,
    pid: identity.pid,
    start_time: identity.startTime,
    exit_code: null,
    exit_reason: null,
    restart_requested: false,
    active_turns: status.activeTurns,
    platforms: status.platforms,
    supervisor: identity.supervisor,
    shutdown: null,
    // Only a gateway on a shared database has them: the state file of a SQLite gateway is unchanged.
    ...(status.replicaId === null ? {} : { replica_id: status.replicaId }),
    ...(status.storage === null ? {} : { storage: status.storage })
  }
  const lifecycle = status.lifecycle
  switch (lifecycle._tag) {
    case "Starting":
      return Option.some({ ...base, gateway_state: "starting" })
    case "Running":
      return Option.some({ ...base, gateway_state: "running" })
    case "Stopping":
      return lifecycle.marked ? Option.some({ ...base, gateway_state: "draining" }) : Option.none()
    case "Stopped": {
      if (status.shutdown === null) return Option.none()
      const ending = {
        exit_code: lifecycle.exitCode,
        exit_reason: status.exitReason,
        active_turns: 0,
        shutdown: status.shutdown
      }
      return Option.match(lifecycle.decision, {
        onNone: () => Option.some({ ...base, ...ending, gateway_state: "startup_failed" as const }),
        onSome: (decision) => {
          const verdict = exitVerdict(decision.classification)
          return Option.some({
            ...base,
            ...ending,
            gateway_state: verdict.gatewayState,
            desired_state: verdict.desiredState,
            restart_requested: verdict.restartRequested
          })
        }
      })
    }
  }
}

/** What systemd has been told so far. */
export interface Announced {
  readonly ready: boolean
  readonly stopping: boolean
  readonly line: string | null
}

export const nothingAnnounced: Announced = { ready: false, stopping: false, line: null }

/**
 * The sd_notify messages that bring systemd from `announced` to `status`: READY=1 once running,
 * STOPPING=1 with the clean-shutdown marker, and a STATUS= line that follows the turns while draining.
 */
export const announce = (
  announced: Announced,
  status: GatewayStatus,
  pid: number
): { readonly announced: Announced; readonly messages: ReadonlyArray<string> } => {
  const lifecycle = status.lifecycle
  const messages: Array<string> = []
  let next = announced
  let line: string | null = announced.line
  if (lifecycle._tag === "Running") {
    line = `running (pid ${pid})`
    if (!announced.ready) {
      messages.push("READY=1")
      next = { ...next, ready: true }
    }
  } else if (lifecycle._tag === "Stopping" && lifecycle.marked) {
    const classification = classificationOf(lifecycle)
    line = status.activeTurns > 0 ? `draining ${status.activeTurns} turn(s) (${classification})` : `stopping (${classification})`
    if (!announced.stopping) {
      messages.push("STOPPING=1")
      next = { ...next, stopping: true }
    }
  }
  if (line !== announced.line && line !== null) {
    messages.push(`STATUS=${line}`)
    next = { ...next, line }
  }
  return { announced: next, messages }
}
