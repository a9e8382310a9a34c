// The turn intake as platforms saw it before turns were streams: submit with callbacks, then the
// outcome; delivery bookkeeping on the same value. Only for adapters not yet ported to reading the
// TurnEvent stream (Telegram); new code reads the stream.
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { AgentReport } from "../agents/Agent.js"
import type { TurnDeliveryService } from "../lifecycle/TurnDelivery.js"
import {
  type InboundMessage,
  type IntakeClosed,
  outcomeOf,
  type TurnEvent,
  type TurnIds,
  type TurnIntake,
  type TurnOutcome
} from "./TurnIntake.js"

export interface TurnHooks {
  /** Once the inbound message is recorded, before any chunk: the point of acknowledgement. */
  readonly onAccepted?: (ids: TurnIds) => Effect.Effect<void>
  /** Reply text as the agent produces it. */
  readonly onChunk?: (text: string) => Effect.Effect<void>
  /** What the agent reports about its answer (model, usage) as it learns it. */
  readonly onReport?: (report: AgentReport) => Effect.Effect<void>
}

const reportOf = (event: Extract<TurnEvent, { _tag: "Report" }>): AgentReport => {
  const { _tag, ...report } = event
  return report as AgentReport
}

/** Reads a turn's events, calling the hook of each in order, and returns the outcome. */
export const runWithHooks = <E>(events: Stream.Stream<TurnEvent, E>, hooks: TurnHooks = {}): Effect.Effect<TurnOutcome, E> =>
  outcomeOf(Stream.tap(events, (event): Effect.Effect<void> => {
    switch (event._tag) {
      case "Accepted":
        return hooks.onAccepted?.(event.ids) ?? Effect.void
      case "Chunk":
        return hooks.onChunk?.(event.text) ?? Effect.void
      case "Report":
        return hooks.onReport?.(reportOf(event)) ?? Effect.void
      case "Outcome":
        return Effect.void
    }
  }))

/** The intake and the delivery service as one value in the callback shape. */
export interface HookedIntake extends TurnDeliveryService {
  readonly submit: (inbound: InboundMessage, hooks?: TurnHooks) => Effect.Effect<TurnOutcome, IntakeClosed>
  readonly resume: (turnId: string, hooks?: TurnHooks) => Effect.Effect<TurnOutcome, IntakeClosed>
  readonly active: Effect.Effect<number>
}

export const hookedIntake = (intake: TurnIntake, delivery: TurnDeliveryService): HookedIntake => ({
  submit: (inbound, hooks) => runWithHooks(intake.submit(inbound), hooks),
  resume: (turnId, hooks) => runWithHooks(intake.resume(turnId), hooks),
  active: intake.active,
  replyRef: delivery.replyRef,
  delivered: delivery.delivered
})
