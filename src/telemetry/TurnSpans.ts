// One span per turn, a root of its own trace: `turn` with the platform, session, turn id, outcome
// and the time the agent took. No-ops when tracing is off (no Tracing service).
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Exit from "effect/Exit"
import type { IntakeClosed, TurnOutcome } from "../adapters/Adapter.js"
import { Agent } from "../agents/Agent.js"
import { outcomeWord } from "../lifecycle/TurnLog.js"
import { SpanName, Tracing } from "./Tracing.js"

/** The attributes a turn's outcome adds to its span. */
export const outcomeAttributes = (outcome: TurnOutcome): Record<string, string> => ({
  "hermes.turn.outcome": outcomeWord[outcome._tag],
  ...("ids" in outcome ? { "hermes.session.id": outcome.ids.sessionId, "hermes.turn.id": outcome.ids.turnId } : {}),
  ...(outcome._tag === "Refused" ? { "hermes.turn.refused_reason": outcome.reason } : {})
})

/**
 * Runs one turn inside its own `turn` span, a root of its own trace: the fiber that handed the
 * message over may carry a span of its own. The turn supervisor wraps the turn's whole fiber, so
 * the span ends with the turn, not with the reader (a client that hung up).
 */
export const withTurnSpan = <A, E, R>(turn: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(Tracing), (tracing) =>
    Option.isNone(tracing)
      ? turn
      : Effect.withSpan(turn, SpanName.turn, { root: true, kind: "server", captureStackTrace: false }))

/**
 * Adds what became of the turn to its span (a no-op without one). Checked first: without a span,
 * annotateCurrentSpan still builds and drops a NoSuchElementException (a stack trace) per turn.
 */
export const annotateTurnEnd = (platform: string, end: Exit.Exit<TurnOutcome, IntakeClosed>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Tracing), (tracing) =>
    Option.isNone(tracing) ? Effect.void : Effect.annotateCurrentSpan({
      "hermes.platform": platform,
      ...Exit.match(end, {
        onSuccess: outcomeAttributes,
        onFailure: () => ({ "hermes.turn.outcome": "refused", "hermes.turn.refused_reason": "draining" })
      })
    }))

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
