// An IntakeContext for adapter tests: no carryover, a fixed gateway view, and restart requests
// recorded instead of acted on.
import * as Effect from "effect/Effect"
import type { Carryover, GatewayView, IntakeContext } from "../../../src/adapters/Adapter.js"

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
      requestRestart: (by) => Effect.sync(() => void restarts.push(by))
    }
  }
}

export const quietContext = (): IntakeContext => recordingContext().context
