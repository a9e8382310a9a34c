// `hermes gateway run`, the whole life in one screen: start the stack, wait for a stop, release the
// stack (the shutdown, CONTRACT 5), exit with the code the decision maps to (CONTRACT 3.1).
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Forensics } from "../forensics/Forensics.js"
import { SystemdNotify } from "../supervision/SystemdNotify.js"
import { startupReady } from "../telemetry/LifeSpans.js"
import { RestartRequested, UnplannedStop } from "./GatewayErrors.js"
import type { GatewaySettings } from "./GatewaySettings.js"
import { GatewayStack } from "./GatewayStack.js"
import { Life, makeLife } from "./Life.js"
import { type LifecycleState, ready } from "./LifecycleState.js"
import { cleanShutdownStep } from "./ShutdownSteps.js"
import { collectStartupGarbage } from "./StartupGarbage.js"
import { describeRequest } from "./StopClassification.js"
import { watchSignals } from "./StopRequests.js"
import { Watchdog } from "./Watchdog.js"

export type { GatewayRunError, GatewaySettings } from "./GatewaySettings.js"
export type { StopDecision } from "./LifecycleState.js"
export { abandonAfter, type PhaseRecord } from "./Phase.js"

export const runGateway = (settings: GatewaySettings) =>
  Effect.gen(function*() {
    const life = yield* Life
    yield* Effect.scoped(Effect.gen(function*() {
      yield* watchSignals // for the whole life, start-up included: forked first, interrupted last
      const started = yield* Layer.build(GatewayStack).pipe(
        Effect.as(true),
        Effect.catchTag("StoppedDuringStartUp", () => Effect.as(Effect.log("stop requested during start-up; releasing what was acquired"), false))
      )
      if (!started) return
      yield* running
      yield* Deferred.await(life.stopRequested)
    }))
    return yield* exitOf(yield* life.lifecycle)
  }).pipe(Effect.provideServiceEffect(Life, makeLife(settings, (life) => Effect.provideService(cleanShutdownStep, Life, life))))

/** Start-up is over: Running, the state file and systemd say so, systemd's watchdog is fed. */
const running = Effect.gen(function*() {
  const life = yield* Life
  yield* (yield* Watchdog).startupReady
  const state = yield* life.transition(ready)
  if (state._tag !== "Running") return
  yield* life.writeState.pipe(Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`)))
  yield* Effect.log(`gateway running pid=${life.settings.self.pid}`)
  yield* startupReady
  yield* life.announce
  // After ready is told, so its fork costs neither start-up nor, later, the stop.
  yield* (yield* Forensics).startWitness
  yield* Effect.forkScoped(collectStartupGarbage)
  const every = life.settings.systemdWatchdog
  if (every === undefined) return
  // Pinged from the event loop on purpose: a stalled loop stops the pings and systemd acts.
  const systemd = yield* SystemdNotify
  const half = Duration.millis(Math.max(100, Duration.toMillis(every) / 2))
  yield* Effect.forkScoped(Effect.forever(systemd.notify(["WATCHDOG=1"]).pipe(Effect.zipRight(Effect.sleep(half)))))
})

/** A stop nobody announced, and a restart, end the run with their own typed errors (exit 1, 75). */
const exitOf = (state: LifecycleState) => {
  if (state._tag !== "Stopped" || state.decision._tag === "None") return Effect.void
  const { classification, request } = state.decision.value
  if (classification === "unplanned") {
    return new UnplannedStop({ message: `stopped by ${describeRequest(request)} that no stopper announced` })
  }
  if (classification === "restart") return new RestartRequested({ message: `restart requested by ${describeRequest(request)}` })
  return Effect.void
}
