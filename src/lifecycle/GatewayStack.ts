// The gateway as one stack of layers. Start-up builds it bottom to top; releasing it is the
// shutdown of CONTRACT 5, top to bottom, each release one bounded phase:
//
//   home lock ─ final_state (8) ─ previous life ─ state followers ─┐
//     clean_shutdown_marker (1), first to run ────────────────────┤ marked first:
//       respawn backoff ─ SessionDB: close_session_db (7) ─ adapters: disconnect_adapters (6)
//         ─ turns: drain (4), interrupt_turns (5) ─ intake: stop_intake (2), notify_chats (3)
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { AdaptersLayer } from "./AdaptersLayer.js"
import { HomeLockLayer } from "./HomeLockLayer.js"
import { IntakeLayer } from "./IntakeLayer.js"
import { Life } from "./Life.js"
import { PreviousLifeLayer } from "./PreviousLifeLayer.js"
import { RespawnBackoffLayer, SessionDbLayer } from "./SessionDbLayer.js"
import { StatusFollowersLayer } from "./StatusFollowers.js"
import { TurnsLayer } from "./TurnsLayer.js"

/** A stop arrived while the stoppable part of start-up was still being built. */
export class StoppedDuringStartUp extends Data.TaggedError("StoppedDuringStartUp")<{}> {}

/**
 * Builds `inner` in a scope that is released after the clean-shutdown marker, so the marker is the
 * first step of every shutdown, also one that interrupts start-up. A stop request abandons the build.
 * (A layer that fails or is interrupted while being built is released at once by its own scope;
 * there the phase helper runs the marker before the first release: Life.markFirst.)
 */
const markedFirst = <A, E, R>(inner: Layer.Layer<A, E, R>) =>
  Layer.scopedContext(Effect.gen(function*() {
    const life = yield* Life
    const resources = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    yield* Effect.addFinalizer(() => life.markFirst)
    return yield* Layer.buildWithScope(inner, resources).pipe(
      Effect.raceFirst(Deferred.await(life.stopRequested).pipe(Effect.zipRight(new StoppedDuringStartUp())))
    )
  }))

export const GatewayStack = IntakeLayer.pipe(
  Layer.provideMerge(TurnsLayer),
  Layer.provideMerge(AdaptersLayer),
  Layer.provideMerge(SessionDbLayer),
  Layer.provideMerge(RespawnBackoffLayer),
  markedFirst,
  Layer.provideMerge(StatusFollowersLayer),
  Layer.provideMerge(PreviousLifeLayer),
  Layer.provideMerge(HomeLockLayer)
)
