// One span per turn, a root of its own trace: `turn` with the platform, session, turn id, outcome
// and the time the agent took. No-ops when tracing is off (no Tracing service).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { IntakeClosed, TurnIntake, TurnOutcome } from "../adapters/Adapter.js"
import { Agent } from "../agents/Agent.js"
import { SpanName, Tracing } from "./Tracing.js"

const outcomeWord: Record<TurnOutcome["_tag"], string> = {
  Completed: "completed",
  Interrupted: "interrupted",
  Failed: "failed",
  Duplicate: "duplicate",
  Refused: "refused"
}

/** The attributes a turn's outcome adds to its span. */
export const outcomeAttributes = (outcome: TurnOutcome): Record<string, string> => ({
  "hermes.turn.outcome": outcomeWord[outcome._tag],
  ...("ids" in outcome ? { "hermes.session.id": outcome.ids.sessionId, "hermes.turn.id": outcome.ids.turnId } : {}),
  ...(outcome._tag === "Refused" ? { "hermes.turn.refused_reason": outcome.reason } : {})
})

const traced = (platform: string, turn: Effect.Effect<TurnOutcome, IntakeClosed>): Effect.Effect<TurnOutcome, IntakeClosed> =>
  Effect.flatMap(Effect.serviceOption(Tracing), (tracing) =>
    Option.isNone(tracing)
      ? turn
      : turn.pipe(
        Effect.tap((outcome) => Effect.annotateCurrentSpan(outcomeAttributes(outcome))),
        Effect.tapError(() =>
          Effect.annotateCurrentSpan({ "hermes.turn.outcome": "refused", "hermes.turn.refused_reason": "draining" })
        ),
        // Its own trace: the fiber that hands the message over may carry a span of its own.
        Effect.withSpan(SpanName.turn, { root: true, kind: "server", attributes: { "hermes.platform": platform }, captureStackTrace: false })
      ))

/**
 * Wraps `intake` for `platform` so each turn is a span. When the caller goes away before the turn
 * ends (the turn carries on under the gateway), the span ends then, without an outcome.
 */
export const tracedIntake = (intake: TurnIntake, platform: string): TurnIntake => ({
  ...intake,
  submit: (inbound, hooks) => traced(platform, intake.submit(inbound, hooks)),
  resume: (turnId, hooks) => traced(platform, intake.resume(turnId, hooks))
})

/**
 * The agent, reporting how long each answer took (first request to last chunk, failures and
 * interruptions included) as `hermes.turn.agent_ms` on the turn's span. The turn runs in a fiber
 * forked under that span, so it is the current one when the agent is asked.
 */
export const tracedAgent = <E, R>(agent: Layer.Layer<Agent, E, R>): Layer.Layer<Agent, E, R> =>
  Layer.effect(
    Agent,
    Effect.gen(function*() {
      const inner = yield* Agent
      if (Option.isNone(yield* Effect.serviceOption(Tracing))) return inner
      return {
        ...inner,
        respond: (request) =>
          Stream.unwrap(Effect.gen(function*() {
            const span = Option.filter(yield* Effect.option(Effect.currentSpan), (span) => span.name === SpanName.turn)
            const started = yield* Clock.currentTimeMillis
            return inner.respond(request).pipe(Stream.ensuring(
              Option.match(span, {
                onNone: () => Effect.void,
                onSome: (span) => Effect.map(Clock.currentTimeMillis, (now) => span.attribute("hermes.turn.agent_ms", now - started))
              })
            ))
          }))
      }
    })
  ).pipe(Layer.provide(agent))
