// The state file and systemd follow the state machine: one fiber wakes on every change of the
// status and writes it. A burst of changes (many turns starting at once) is coalesced: changes made
// while a write is in progress leave the latch open for one more write, and writes are at least
// `coalesceWrites` apart, so the state file is at most that much behind (a quarter second, where the
// old poller was a second) and a busy gateway fsyncs it at most four times a second, never once per turn.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Life } from "./Life.js"

export const coalesceWrites = Duration.millis(250)

export const StatusFollowersLayer = Layer.scopedDiscard(Effect.gen(function*() {
  const life = yield* Life
  // Closed before reading the status, so a change made during the write opens it again: the write
  // always shows the status as it is when it runs, and a skipped intermediate change is never lost.
  const sync = Effect.gen(function*() {
    yield* life.changed.await
    yield* life.changed.close
    yield* life.writeState.pipe(
      Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`))
    )
    yield* life.announce
    yield* Effect.sleep(coalesceWrites)
  })
  yield* Effect.forkScoped(Effect.forever(sync))
}))
