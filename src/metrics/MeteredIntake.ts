// The turn intake one platform is given, counting what becomes of its messages: each turn's outcome
// and duration, and the messages refused (intake closed while draining, suspended session, storage).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { IntakeClosed, TurnEvent, TurnIntake, TurnOutcome } from "../adapters/TurnIntake.js"
import { recordOutcome, recordRefusal, secondsSince } from "./GatewayMetrics.js"

const recordEnd = (platform: string, started: bigint, outcome: TurnOutcome) =>
  Effect.flatMap(secondsSince(started), (seconds) => recordOutcome(platform, outcome, seconds))

const metered = (
  platform: string,
  events: Stream.Stream<TurnEvent, IntakeClosed>
): Stream.Stream<TurnEvent, IntakeClosed> =>
  Stream.unwrap(Effect.map(Clock.currentTimeNanos, (started) =>
    events.pipe(
      Stream.tap((event) => event._tag === "Outcome" ? recordEnd(platform, started, event.outcome) : Effect.void),
      Stream.tapError(() => recordRefusal(platform, "draining"))
    )))

const meteredAnswer = (platform: string, answer: Effect.Effect<TurnOutcome, IntakeClosed>) =>
  Effect.flatMap(Clock.currentTimeNanos, (started) =>
    answer.pipe(
      Effect.tap((outcome) => recordEnd(platform, started, outcome)),
      Effect.tapError(() => recordRefusal(platform, "draining"))
    ))

/**
 * Wraps `intake` for `platform`. A reader that stops before its turn ends (the turn carries on
 * under the gateway) is not counted: only outcomes somebody received are.
 */
export const meteredIntake = (intake: TurnIntake, platform: string): TurnIntake => ({
  ...intake,
  submit: (inbound) => metered(platform, intake.submit(inbound)),
  answer: (inbound) => meteredAnswer(platform, intake.answer(inbound)),
  follow: (inbound, onEvent) => meteredAnswer(platform, intake.follow(inbound, onEvent)),
  resume: (turnId) => metered(platform, intake.resume(turnId))
})
