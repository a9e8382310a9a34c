// Stop requests (signals, `gateway restart` over the control channel, /restart in a chat) become
// transitions of the state machine: classified once (phase 0), later ones force the drain or, for a
// restart in progress, let a planned stop override it.
import { formatDuration } from "../config/Duration.js"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { describeDiagnosticReport } from "../forensics/DiagnosticReport.js"
import { Forensics } from "../forensics/Forensics.js"
import { type Snapshot, shutdownContextLines } from "../forensics/Snapshot.js"
import { HomeStore } from "../home/HomeStore.js"
import { beginShutdownSpan } from "../telemetry/LifeSpans.js"
import {
  decisionOf,
  forced,
  isShuttingDown,
  overridden,
  phaseName,
  type StopDecision,
  stopRequested
} from "./LifecycleState.js"
import { Life } from "./Life.js"
import { hardDeadline } from "./ShutdownBudget.js"
import { Signals } from "./Signals.js"
import { classify, describeRequest, evaluateMarker, followUp, type StopRequest } from "./StopClassification.js"
import { overridingDecision } from "./StopFollowUp.js"
import { Watchdog } from "./Watchdog.js"

/**
 * Phase 0: the hard-deadline watchdog, the detached diagnostic child and one `shutdown context`
 * line, from the snapshot taken before the marker was read. Records only; the decision is made.
 */
export const beginShutdown = (snapshot: Snapshot, classification: string, markerVerdict: string) =>
  Effect.gen(function*() {
    const life = yield* Life
    const watchdog = yield* Watchdog
    const forensics = yield* Forensics
    const { budget, self } = life.settings
    const deadline = hardDeadline(budget)
    yield* beginShutdownSpan(classification)
    yield* watchdog.arm(deadline, { pid: self.pid, start_time: self.startTime, signal: snapshot.signal, classification })
    yield* forensics.spawnDiagnostic({ signal: snapshot.signal, classification })
    yield* Ref.set(life.shutdownContext, snapshot)
    const context = shutdownContextLines(snapshot, classification, markerVerdict, formatDuration(deadline))
    yield* Effect.log(context.info)
    yield* Effect.logDebug(context.debug)
  })

/** Reads the planned-stop marker as it stands for this incarnation, consuming it when it should. */
const readMarker = Effect.gen(function*() {
  const life = yield* Life
  const store = yield* HomeStore
  const reading = yield* store.readPlannedStop
  const now = yield* Clock.currentTimeMillis
  const marker = evaluateMarker(reading, life.settings.self, now, Duration.toMillis(life.settings.budget.markerTtl))
  if (marker.file === "consume") yield* store.removePlannedStop
  return marker
})

export const handleStopRequest = (request: StopRequest) =>
  Effect.gen(function*() {
    const life = yield* Life
    const forensics = yield* Forensics
    const store = yield* HomeStore
    const readMarkerNow = readMarker.pipe(Effect.provideService(Life, life), Effect.provideService(HomeStore, store))
    const current = yield* life.lifecycle
    if (isShuttingDown(current)) {
      // A start-up that failed on its own keeps its verdict; a decision can only be overridden.
      const previous = decisionOf(current)
      const overriding = Option.isSome(previous)
        ? yield* overridingDecision(previous.value, request, readMarkerNow)
        : Option.none<StopDecision>()
      if (Option.isSome(overriding)) yield* life.transition((state) => overridden(state, overriding.value))
      if (followUp(request) === "force") {
        const classification = Option.getOrElse(Option.orElse(overriding, () => previous), () => undefined)?.classification ?? "startup_failed"
        yield* Effect.logWarning(
          `shutdown forced by a second ${describeRequest(request)}; ending the drain now (exit code still follows the first decision: ${classification})`
        )
        yield* life.transition(forced)
        yield* Deferred.succeed(life.force, undefined)
      } else {
        yield* Effect.log(`ignoring ${describeRequest(request)}: already shutting down`)
      }
      return
    }
    // Before the marker is read and consumed, so the record shows it as the stopper left it.
    const snapshot = yield* forensics.snapshot(describeRequest(request))
    const marker = yield* readMarkerNow
    const decision: StopDecision = { classification: classify(request, marker), request, marker: marker.note }
    const state = yield* life.transition((s, now) => stopRequested(s, decision, now))
    // Between the check above and here a start-up may have failed on its own: then it decided first.
    if (state._tag !== "Stopping" || Option.isNone(state.decision)) return
    yield* beginShutdown(snapshot, decision.classification, marker.note)
    yield* Deferred.succeed(life.stopRequested, undefined)
  })

/**
 * Signals are watched for the whole life, start-up included. Past the final step this life decides
 * nothing: the signal is left to whoever comes next (the restart parent passes a planned stop on).
 */
export const watchSignals = Effect.gen(function*() {
  const life = yield* Life
  const signals = yield* Signals
  const forensics = yield* Forensics
  const handle = Effect.gen(function*() {
    const signal = yield* signals.take
    const state = yield* life.lifecycle
    if (state._tag === "Stopped") return yield* signals.giveBack(signal)
    if (signal === "SIGUSR2") {
      const status = yield* Ref.get(life.status)
      const report = yield* forensics.diagnosticReport({ activeTurns: status.activeTurns, phase: phaseName(state) })
      return yield* Effect.log(describeDiagnosticReport(report))
    }
    yield* handleStopRequest({ _tag: "Signal", signal })
  })
  yield* Effect.forkScoped(Effect.forever(handle))
})
