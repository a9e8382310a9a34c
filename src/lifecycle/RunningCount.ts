// The number of running turns, as the turn supervisor counts them in and out: the admission check
// of gateway.max_inflight_turns, the reports that feed active_turns, and the wait of a platform
// that holds back until there is room (Telegram). Every change is one synchronous step on the
// event loop, so it needs no lock. A report is handed a reader of the count, not a number: what it
// records is the count as it stands when the record is made, so the last record always tells the
// current number, whatever order fibers ran in. (A lock and a change stream around the count, a
// SubscriptionRef, cost ~19 µs per turn: BENCHMARKS.md, issue 13.)
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { hasRoom } from "./TurnAdmission.js"

/**
 * Told after every change: which change it was, and how to read the count. Read it where the
 * number is recorded (inside a Ref.update), not before: a later change may have been recorded first.
 */
export type ActiveChange = (change: 1 | -1, current: () => number) => Effect.Effect<void>

export interface RunningCount {
  /** Counts a turn in, unless it is bounded and the limit is reached: then false, nothing counted. */
  readonly admit: (bounded: boolean) => Effect.Effect<boolean>
  /** Counts a turn out. */
  readonly leave: Effect.Effect<void>
  readonly current: Effect.Effect<number>
  /** Ends as soon as a bounded turn would be admitted (at once when it would be now). */
  readonly awaitRoom: Effect.Effect<void>
}

/** `limit` is gateway.max_inflight_turns (0: none). */
export const makeRunningCount = (limit: number, onChange: ActiveChange): RunningCount => {
  let running = 0
  // Completed by the next turn to leave, then replaced: made only while someone waits for room.
  let roomFreed: Deferred.Deferred<void> | undefined
  const current = () => running
  const report = (change: 1 | -1) => onChange(change, current)

  const admit = (bounded: boolean) =>
    Effect.suspend(() => {
      if (bounded && !hasRoom(running, limit)) return Effect.succeed(false)
      running += 1
      return Effect.as(report(1), true)
    })

  const leave = Effect.suspend(() => {
    running -= 1
    const freed = roomFreed
    roomFreed = undefined
    if (freed !== undefined) Deferred.unsafeDone(freed, Exit.void)
    return report(-1)
  })

  // The count is read and the signal taken in one step: a turn that leaves after it completes the
  // very signal this waits on, so no departure is missed.
  const awaitRoom: Effect.Effect<void> = Effect.suspend(() => {
    if (hasRoom(running, limit)) return Effect.void
    const signal = (roomFreed ??= Deferred.unsafeMake<void>(FiberId.none))
    return Effect.zipRight(Deferred.await(signal), awaitRoom)
  })

  return { admit, leave, current: Effect.sync(current), awaitRoom }
}
