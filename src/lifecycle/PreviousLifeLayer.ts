// Start-up consumes .clean_shutdown and says whether the previous life ended in order (CONTRACT 5,
// end). Only then is the state file replaced: the first write must succeed, or the home is an
// environment error (78). From here on the state file follows the state machine.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Forensics } from "../forensics/Forensics.js"
import { describePreviousLife, type PreviousLife, previousLifeVerdict } from "../forensics/PreviousLife.js"
import { HomeStore } from "../home/HomeStore.js"
import { recordStartUp } from "../metrics/StartUpMetrics.js"
import { environmentError, LockedHome } from "./HomeLockLayer.js"
import { Life } from "./Life.js"
import * as Ref from "effect/Ref"

export class PreviousLifeVerdict extends Context.Tag("hermes/PreviousLifeVerdict")<PreviousLifeVerdict, PreviousLife>() {}

const inspectPreviousLife = Effect.gen(function*() {
  const { life, store, forensics } = yield* Effect.all({ life: Life, store: HomeStore, forensics: Forensics })
  const { previousPidFile } = yield* LockedHome
  const input = {
    cleanShutdown: yield* store.consumeCleanShutdown,
    previousState: yield* store.readState,
    previousPidFile,
    self: life.settings.self,
    recentRecords: yield* forensics.recentLifecycle
  }
  yield* recordStartUp(performance.timeOrigin, input.recentRecords)
  const verdict = previousLifeVerdict(input)
  // CONTRACT 1: an unreadable file is treated as absent, and the log says so.
  for (const note of verdict.notes ?? []) yield* Effect.logWarning(`${note}; treated as absent`)
  if (verdict.verdict !== "died_without_shutdown") {
    yield* Effect.log(describePreviousLife(verdict))
    return verdict
  }
  // Only a life that died gets the (slower) look at the kernel log for an OOM kill.
  const died = previousLifeVerdict({ ...input, kernelLogTail: yield* forensics.kernelLogTail })
  yield* Effect.logWarning(describePreviousLife(died))
  return died
})

export const PreviousLifeLayer = Layer.effect(
  PreviousLifeVerdict,
  Effect.gen(function*() {
    const { life, store } = yield* Effect.all({ life: Life, store: HomeStore })
    const previousLife = yield* inspectPreviousLife
    yield* life.writeState.pipe(Effect.mapError(environmentError))
    yield* store.appendLifecycle({
      event: "start",
      at: yield* Ref.get(life.startedAt),
      pid: life.settings.self.pid,
      start_time: life.settings.self.startTime,
      argv: [...life.settings.argv],
      previous_life: previousLife
    }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
    return previousLife
  })
)
