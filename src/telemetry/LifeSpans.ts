// The call-site helpers for a gateway life's spans: start-up until ready, and one span per shutdown
// phase under the `shutdown` span. Each is a no-op when tracing is off (no Tracing service).
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { SpanName, Tracing } from "./Tracing.js"

const whenTracing = <A>(use: (tracing: Tracing["Type"]) => Effect.Effect<A>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Tracing), Option.match({ onNone: () => Effect.void, onSome: (tracing) => Effect.asVoid(use(tracing)) }))

/** The gateway is running: the `startup` span (from the process's start) ends here. */
export const startupReady: Effect.Effect<void> = whenTracing((tracing) => tracing.startupReady)

/** Phase 0 of a shutdown: the `shutdown` span starts, with the stop's classification. */
export const beginShutdownSpan = (classification: string): Effect.Effect<void> =>
  whenTracing((tracing) => tracing.beginShutdown(classification))

/**
 * A bounded shutdown step as the span `shutdown.<phase>`, child of `shutdown` (explicitly: the
 * finalizers run with whatever span was current when they were registered, usually none or
 * start-up's). `hermes.phase.outcome` is ok, timeout (the bound passed: None) or failed.
 */
export const withPhaseSpan = (phase: string) =>
<A, E, R>(step: Effect.Effect<Option.Option<A>, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.flatMap(Effect.serviceOption(Tracing), (tracing) =>
    Option.isNone(tracing)
      ? step
      : Effect.flatMap(tracing.value.shutdownSpan, (parent) =>
        step.pipe(
          Effect.tap((result) => Effect.annotateCurrentSpan("hermes.phase.outcome", Option.isSome(result) ? "ok" : "timeout")),
          Effect.tapErrorCause(() => Effect.annotateCurrentSpan("hermes.phase.outcome", "failed")),
          Effect.withSpan(SpanName.phase(phase), {
            parent,
            attributes: { "hermes.phase": phase },
            captureStackTrace: false
          })
        )))
