// For tests that observe a turn's events as callbacks in the order they arrive: reads the stream,
// calling the hook of each event, and returns the outcome.
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { AgentReport } from "../../../src/agents/Agent.js"
import {
  outcomeOf,
  type TurnEvent,
  type TurnIds,
  type TurnOutcome
} from "../../../src/adapters/TurnIntake.js"

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
