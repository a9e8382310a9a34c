// The turn intake one platform is given, counting what becomes of its messages: each turn's outcome
// and duration, and the messages refused (intake closed while draining, suspended session, storage).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { IntakeClosed, TurnIntake, TurnOutcome } from "../adapters/Adapter.js"
import { recordOutcome, recordRefusal, secondsSince } from "./GatewayMetrics.js"

const metered = (
  platform: string,
  turn: Effect.Effect<TurnOutcome, IntakeClosed>
): Effect.Effect<TurnOutcome, IntakeClosed> =>
  Effect.flatMap(Clock.currentTimeNanos, (started) =>
    turn.pipe(
      Effect.tap((outcome) => Effect.flatMap(secondsSince(started), (seconds) => recordOutcome(platform, outcome, seconds))),
      Effect.tapError(() => recordRefusal(platform, "draining"))
    ))

/**
 * Wraps `intake` for `platform`. A caller that goes away before its turn ends (the turn carries on
 * under the gateway) is not counted: only outcomes somebody received are.
 */
export const meteredIntake = (intake: TurnIntake, platform: string): TurnIntake => ({
  ...intake,
  submit: (inbound, hooks) => metered(platform, intake.submit(inbound, hooks)),
  resume: (turnId, hooks) => metered(platform, intake.resume(turnId, hooks))
})
