// The state file and systemd follow the state machine: one fiber per view subscribes to the
// status's changes. A burst of changes (many turns starting at once) is coalesced: while a write
// is in progress only the latest change waits, and writes are at least `coalesceWrites` apart, so
// the state file is at most that much behind (a quarter second, where the old poller was a second)
// and a busy gateway fsyncs it at most four times a second, never once per turn.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Life } from "./Life.js"

export const coalesceWrites = Duration.millis(250)

export const StatusFollowersLayer = Layer.scopedDiscard(Effect.gen(function*() {
  const life = yield* Life
  // Each sync writes the status as it is when it runs, so a skipped intermediate change is never lost.
  const follow = (sync: Effect.Effect<void>) =>
    life.status.changes.pipe(
      Stream.buffer({ capacity: 1, strategy: "sliding" }),
      Stream.runForEach(() => sync.pipe(Effect.zipRight(Effect.sleep(coalesceWrites)))),
      Effect.forkScoped
    )
  yield* follow(life.writeState.pipe(
    Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`))
  ))
  yield* follow(life.announce)
}))
