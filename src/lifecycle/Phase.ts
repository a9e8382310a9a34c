// The names of the shutdown phases (CONTRACT 5) and of the start-up stages the watchdog reports.
// This is the one list in src: the kernel, the shutdown record and the tests all read it here.
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

/** Shutdown phases in the order they run; phase 0 (classification) is not a step of its own. */
export const shutdownPhases = [
  "clean_shutdown_marker",
  "stop_intake",
  "notify_chats",
  "drain",
  "interrupt_turns",
  "disconnect_adapters",
  "close_session_db",
  "final_state"
] as const

export type Phase = typeof shutdownPhases[number]

/** Start-up stages, as the start-up watchdog names the one it was in when it fired. */
export type StartupStage = "startup:respawn_backoff" | "startup:session_db" | "startup:connect_adapters"

/** One line of the shutdown report's `phases`. */
export interface PhaseRecord {
  readonly name: Phase
  readonly started_at_ms: number
  readonly took_ms: number
  readonly outcome: "ok" | "timeout" | "failed" | "skipped"
  readonly detail?: string
}

/**
 * Bounds a step that runs inside a finalizer (an uninterruptible region). The work is made
 * interruptible, and disconnected so that a step ignoring interruption is abandoned at the bound
 * instead of holding the shutdown; the outer `interruptible` lets the timeout actually fire.
 */
export const abandonAfter = <A, E>(
  work: Effect.Effect<A, E>,
  bound: Duration.Duration
): Effect.Effect<Option.Option<A>, E> =>
  work.pipe(Effect.interruptible, Effect.disconnect, Effect.interruptible, Effect.timeoutOption(bound))

/** Runs one shutdown phase: bounded (when `bound` is given), timed, recorded and logged. */
export type PhaseRunner = (
  name: Phase,
  bound?: Duration.Duration
) => (work: Effect.Effect<unknown, unknown>) => Effect.Effect<void>
