// An IntakeContext for adapter tests: no carryover, a fixed gateway view, and restart requests
// recorded instead of acted on.
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Carryover, GatewayView, IntakeContext, TurnIds } from "../../../src/adapters/Adapter.js"
import { TurnDelivery } from "../../../src/adapters/TurnDelivery.js"

export const testView: GatewayView = {
  pid: 4242,
  state: "running",
  startedAt: "2026-01-01T00:00:00.000Z",
  activeTurns: 0,
  platforms: { telegram: { state: "polling", error: null } },
  agent: "echo",
  supervisor: null
}

export interface RecordingContext {
  readonly context: IntakeContext
  /** `by` of every restart request, in order. */
  readonly restarts: Array<string>
}

export const recordingContext = (
  options: { readonly carryover?: ReadonlyArray<Carryover>; readonly view?: Partial<GatewayView> } = {}
): RecordingContext => {
  const restarts: Array<string> = []
  return {
    restarts,
    context: {
      carryover: options.carryover ?? [],
      status: Effect.sync(() => ({ ...testView, ...options.view })),
      readiness: Effect.succeed("ready"),
      requestRestart: (by) => Effect.sync(() => void restarts.push(by))
    }
  }
}

export const quietContext = (): IntakeContext => recordingContext().context

/** Delivery bookkeeping for adapters that never push (HTTP): ignored. */
export const quietDelivery = Layer.succeed(TurnDelivery, { replyRef: () => Effect.void, delivered: () => Effect.void })

export interface RecordingDelivery {
  readonly layer: Layer.Layer<TurnDelivery>
  /** Turn ids whose answer was reported delivered, in order. */
  readonly delivered: Array<string>
  /** The placeholder message recorded for each turn. */
  readonly replyRefs: Map<string, string>
}

export const recordingDelivery = (): RecordingDelivery => {
  const delivered: Array<string> = []
  const replyRefs = new Map<string, string>()
  return {
    delivered,
    replyRefs,
    layer: Layer.succeed(TurnDelivery, {
      delivered: (ids: TurnIds) => Effect.sync(() => void delivered.push(ids.turnId)),
      replyRef: (ids: TurnIds, ref: string) => Effect.sync(() => void replyRefs.set(ids.turnId, ref))
    })
  }
}
