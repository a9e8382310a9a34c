// The one lifecycle state machine of a gateway life. Every other view of the phase (the state
// file, systemd STATUS=, /status, the diagnostic report) is derived from it; the transitions are
// pure so they can be tested on their own.
//
//   Starting ──ready──▶ Running
//      │                   │
//      └──stop / start-up failed──▶ Stopping{decision, startedAt, forced, marked} ──stopped──▶ Stopped{exitCode}
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import type { Readiness } from "../adapters/Adapter.js"
import { ExitCode, exitCodeOfFailure } from "./ExitCode.js"
import { type Classification, describeRequest, exitVerdict, type StopRequest } from "./StopClassification.js"

/** How a stop request was classified (CONTRACT 3.2), and what the planned-stop marker said. */
export interface StopDecision {
  readonly classification: Classification
  readonly request: StopRequest
  /** The marker verdict in words ("names self, action stop", "missing", ...). */
  readonly marker: string
}

export type LifecycleState = Data.TaggedEnum<{
  Starting: {}
  Running: {}
  Stopping: {
    /** None: start-up failed before anyone asked for a stop. */
    readonly decision: Option.Option<StopDecision>
    /** Clock millis of phase 0: every phase is timed from here. */
    readonly startedAt: number
    /** A second signal ended the drain early. */
    readonly forced: boolean
    /** The clean-shutdown marker is written: from here the state file says draining (CONTRACT 5.1). */
    readonly marked: boolean
  }
  /** The final step began: the decision is frozen and later signals belong to whoever comes next. */
  Stopped: { readonly exitCode: number; readonly decision: Option.Option<StopDecision>; readonly startedAt: number }
}>

export const LifecycleState = Data.taggedEnum<LifecycleState>()
const { Running, Starting, Stopped, Stopping } = LifecycleState

export const initial: LifecycleState = Starting()

// --- transitions: each returns the state unchanged where it does not apply -----------------------

/** Start-up completed. A stop that came during start-up stays a stop. */
export const ready = (state: LifecycleState): LifecycleState => state._tag === "Starting" ? Running() : state

/** The first stop request: phase 0 begins. Later ones go through `overridden` or `forced`. */
export const stopRequested = (state: LifecycleState, decision: StopDecision, now: number): LifecycleState =>
  state._tag === "Starting" || state._tag === "Running"
    ? Stopping({ decision: Option.some(decision), startedAt: now, forced: false, marked: false })
    : state

/** Start-up failed with nobody asking for a stop: the shutdown begins without a decision. */
export const startupFailed = (state: LifecycleState, now: number): LifecycleState =>
  state._tag === "Starting" || state._tag === "Running"
    ? Stopping({ decision: Option.none(), startedAt: now, forced: false, marked: false })
    : state

/** A later planned stop replaced a restart in progress (StopFollowUp). */
export const overridden = (state: LifecycleState, decision: StopDecision): LifecycleState =>
  state._tag === "Stopping" ? Stopping({ ...state, decision: Option.some(decision) }) : state

/** A second signal: the drain ends now; the exit code still follows the decision. */
export const forced = (state: LifecycleState): LifecycleState =>
  state._tag === "Stopping" ? Stopping({ ...state, forced: true }) : state

export const markerWritten = (state: LifecycleState): LifecycleState =>
  state._tag === "Stopping" ? Stopping({ ...state, marked: true }) : state

/**
 * The final step: the exit code follows the decision (CONTRACT 3.1) or, without one, the start-up
 * error's own code (70 when it has none). Stopping twice keeps the first verdict.
 */
export const stopped = (state: LifecycleState, startupError: Option.Option<unknown>, now: number): LifecycleState => {
  if (state._tag === "Stopped") return state
  const decision = decisionOf(state)
  const exitCode = Option.match(decision, {
    onSome: (d) => exitVerdict(d.classification).exitCode,
    onNone: () => Option.match(startupError, { onNone: () => ExitCode.Software, onSome: exitCodeOfFailure })
  })
  return Stopped({ exitCode, decision, startedAt: state._tag === "Stopping" ? state.startedAt : now })
}

// --- what the state says ---------------------------------------------------------------------

export const decisionOf = (state: LifecycleState): Option.Option<StopDecision> =>
  state._tag === "Stopping" || state._tag === "Stopped" ? state.decision : Option.none()

export const shutdownStartedAt = (state: LifecycleState): Option.Option<number> =>
  state._tag === "Stopping" || state._tag === "Stopped" ? Option.some(state.startedAt) : Option.none()

export const isShuttingDown = (state: LifecycleState): boolean => state._tag === "Stopping" || state._tag === "Stopped"

/**
 * What a readiness probe (/readyz) answers: ready only while Running, so a load balancer moves on
 * the moment a stop is decided (phase 0), before intake stops and while turns drain.
 */
export const readinessOf = (state: LifecycleState): Readiness =>
  state._tag === "Running" ? "ready" : state._tag === "Starting" ? "starting" : "draining"

/** The classification the shutdown record shows; "startup_failed" when nobody asked for the stop. */
export const classificationOf = (state: LifecycleState): string =>
  Option.match(decisionOf(state), { onNone: () => "startup_failed", onSome: (d) => d.classification })

/** exit_reason as the state file and the shutdown record carry it (its text is read by tests and people). */
export const exitReasonOf = (decision: Option.Option<StopDecision>, startupError: Option.Option<unknown>): string =>
  Option.match(decision, {
    onSome: (d) => `${d.classification} stop (${describeRequest(d.request)}; marker ${d.marker})`,
    onNone: () =>
      Option.match(startupError, {
        onSome: (e) => `start-up failed: ${(e as { message?: string }).message ?? String(e)}`,
        onNone: () => "start-up failed"
      })
  })

/** The state as /status and the diagnostic report name it. */
export const phaseName = (state: LifecycleState): string =>
  LifecycleState.$match(state, {
    Starting: () => "starting",
    Running: () => "running",
    Stopping: () => "shutting_down",
    Stopped: () => "stopped"
  })
