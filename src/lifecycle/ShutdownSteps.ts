// The first and the last step of every shutdown: the clean-shutdown marker (phase 1, before
// anything else is released) and the final state (phase 8, while the home lock is still held).
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { Forensics } from "../forensics/Forensics.js"
import type { ShutdownSummary } from "../home/GatewayStateFile.js"
import { HomeStore } from "../home/HomeStore.js"
import { droppedLogWrites } from "../logging/StreamGuard.js"
import { disconnected } from "./GatewayStatus.js"
import { isoNow, Life } from "./Life.js"
import {
  classificationOf,
  exitReasonOf,
  markerWritten,
  shutdownStartedAt,
  startupFailed,
  stopped
} from "./LifecycleState.js"
import { describeRequest } from "./StopClassification.js"
import { beginShutdown } from "./StopRequests.js"
import { Watchdog } from "./Watchdog.js"

/** Phase 1: the first finalizer of every orderly shutdown, start-up failures included. */
export const cleanShutdownStep = Effect.gen(function*() {
  const life = yield* Life
  const store = yield* HomeStore
  const forensics = yield* Forensics
  const before = yield* life.lifecycle
  if (Option.isNone(shutdownStartedAt(before))) {
    // Nobody asked for this stop: start-up failed. The snapshot comes first, as for a signal.
    const snapshot = yield* forensics.snapshot("none")
    yield* life.transition(startupFailed)
    yield* beginShutdown(snapshot, classificationOf(yield* life.lifecycle), "not read (start-up failed)")
  }
  yield* life.phase("clean_shutdown_marker")(Effect.gen(function*() {
    const classification = classificationOf(yield* life.lifecycle)
    yield* store.writeCleanShutdown({
      pid: life.settings.self.pid,
      start_time: life.settings.self.startTime,
      classification,
      written_at: yield* isoNow
    }).pipe(Effect.catchAll((error) => Effect.logError(`could not write the clean-shutdown marker: ${error.message}`)))
    // From here the state file says draining and systemd hears STOPPING=1; synced now, so both
    // happen within this phase and before intake stops.
    yield* life.transition(markerWritten)
    yield* life.writeStateNow.pipe(Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`)))
    yield* life.announce
  }))
})

/** Phase 8: final state, shutdown report, pid file; the lock is released right after. */
export const finalStep = (exit: Exit.Exit<unknown, unknown>) =>
  Effect.gen(function*() {
    const life = yield* Life
    const store = yield* HomeStore
    const watchdog = yield* Watchdog
    const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    // From this transition on the decision no longer changes: later signals are given back.
    const end = yield* life.transition((state, now) => stopped(state, failure, now))
    if (end._tag !== "Stopped") return
    const startupError = Option.isNone(end.decision) ? failure : Option.none()
    const exitReason = exitReasonOf(end.decision, startupError)
    yield* life.phase("final_state")(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const turns = yield* Ref.get(life.turnCounts)
      const summary: ShutdownSummary = {
        classification: classificationOf(end),
        signal: Option.match(end.decision, { onNone: () => null, onSome: (d) => describeRequest(d.request) }),
        exit_code: end.exitCode,
        took_ms: now - end.startedAt,
        turns_drained: turns.drained,
        turns_interrupted: turns.interrupted,
        deadline_fired: turns.drainEnded === "deadline" ? "drain" : turns.drainEnded === "forced" ? "forced" : null,
        marker: Option.match(end.decision, { onNone: () => null, onSome: (d) => d.marker }),
        at: yield* isoNow
      }
      yield* life.update((status) => ({
        ...status,
        activeTurns: 0,
        platforms: disconnected(status.platforms),
        exitReason,
        shutdown: summary
      }))
      yield* life.writeStateNow.pipe(Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`)))
      yield* store.appendLifecycle({
        event: "shutdown",
        pid: life.settings.self.pid,
        start_time: life.settings.self.startTime,
        ...summary,
        exit_reason: exitReason,
        phases: yield* Ref.get(life.phases),
        context: yield* Ref.get(life.shutdownContext),
        log_writes_dropped: droppedLogWrites()
      }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
      yield* store.removePidIfOurs(life.settings.self.pid)
    }))
    yield* watchdog.disarm
    yield* Effect.log(`gateway exiting code=${end.exitCode} reason=${JSON.stringify(exitReason)}`)
  })
