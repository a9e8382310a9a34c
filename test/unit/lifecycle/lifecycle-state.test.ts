// The lifecycle state machine (LifecycleState.ts) and its projections (GatewayStatus.ts): pure
// transitions, checked one by one and as random sequences of events.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Option from "effect/Option"
import { NoAdapterConnected } from "../../../src/lifecycle/GatewayErrors.js"
import { announce, type GatewayStatus, initialStatus, nothingAnnounced, stateDocument } from "../../../src/lifecycle/GatewayStatus.js"
import {
  decisionOf,
  forced,
  initial,
  LifecycleState,
  markerWritten,
  overridden,
  readinessOf,
  ready,
  startupFailed,
  type StopDecision,
  stopped,
  stopRequested
} from "../../../src/lifecycle/LifecycleState.js"

const planned: StopDecision = { classification: "planned", request: { _tag: "Signal", signal: "SIGTERM" }, marker: "names self, action stop" }
const restart: StopDecision = { classification: "restart", request: { _tag: "Signal", signal: "SIGUSR1" }, marker: "not read" }
const unplanned: StopDecision = { classification: "unplanned", request: { _tag: "Signal", signal: "SIGTERM" }, marker: "missing" }
const identity = { pid: 42, startTime: "7", supervisor: null }

describe("lifecycle transitions", () => {
  it("starts Starting, becomes Running when ready", () => {
    expect(initial._tag).toBe("Starting")
    expect(ready(initial)._tag).toBe("Running")
  })

  it("a stop during start-up stays a stop when start-up completes", () => {
    const stopping = stopRequested(initial, planned, 100)
    expect(ready(stopping)).toBe(stopping)
    expect(stopping).toEqual(LifecycleState.Stopping({ decision: Option.some(planned), startedAt: 100, forced: false, marked: false }))
  })

  it("the first stop request decides; a later one can only override or force", () => {
    const stopping = stopRequested(ready(initial), restart, 100)
    expect(stopRequested(stopping, unplanned, 200)).toBe(stopping)
    const overriddenByPlanned = overridden(stopping, planned)
    expect(decisionOf(overriddenByPlanned)).toEqual(Option.some(planned))
    expect(forced(overriddenByPlanned)).toMatchObject({ _tag: "Stopping", forced: true, startedAt: 100 })
  })

  it("a failed start-up stops without a decision and exits with the error's own code", () => {
    const failing = startupFailed(initial, 5)
    expect(decisionOf(failing)).toEqual(Option.none())
    expect(stopped(failing, Option.some(new NoAdapterConnected({ message: "no adapter could connect" })), 9)).toEqual(LifecycleState.Stopped({ exitCode: 69, decision: Option.none(), startedAt: 5 }))
    expect(stopped(failing, Option.some(new Error("boom")), 9)).toMatchObject({ exitCode: 70 })
    // A plain object that merely has an exitCode is not one of ours: a bug, 70.
    expect(stopped(failing, Option.some({ exitCode: 69 }), 9)).toMatchObject({ exitCode: 70 })
  })

  it("the exit code follows the decision (CONTRACT 3.1)", () => {
    const end = (d: StopDecision) => stopped(stopRequested(ready(initial), d, 1), Option.none(), 2)
    expect(end(planned)).toMatchObject({ _tag: "Stopped", exitCode: 0 })
    expect(end(restart)).toMatchObject({ _tag: "Stopped", exitCode: 75 })
    expect(end(unplanned)).toMatchObject({ _tag: "Stopped", exitCode: 1 })
  })

  it("Stopped is final: nothing moves it", () => {
    const end = stopped(stopRequested(initial, planned, 1), Option.none(), 2)
    for (const move of [ready, forced, markerWritten, (s: LifecycleState) => stopRequested(s, unplanned, 3), (s: LifecycleState) => overridden(s, restart), (s: LifecycleState) => startupFailed(s, 4)]) {
      expect(move(end)).toBe(end)
    }
  })
})

describe("projections", () => {
  it("/readyz is ready only while Running: draining from the moment a stop is decided", () => {
    expect(readinessOf(initial)).toBe("starting")
    expect(readinessOf(ready(initial))).toBe("ready")
    expect(readinessOf(stopRequested(ready(initial), planned, 1))).toBe("draining")
    expect(readinessOf(startupFailed(initial, 1))).toBe("draining")
    expect(readinessOf(stopped(stopRequested(ready(initial), planned, 1), Option.none(), 2))).toBe("draining")
  })

  const status = (lifecycle: LifecycleState, patch: Partial<GatewayStatus> = {}): GatewayStatus => ({ ...initialStatus, lifecycle, ...patch })

  it("the state file says draining only once the clean-shutdown marker is written", () => {
    const stopping = stopRequested(ready(initial), planned, 1)
    expect(stateDocument(status(stopping), identity)).toEqual(Option.none())
    expect(Option.map(stateDocument(status(markerWritten(stopping), { activeTurns: 2 }), identity), (d) => [d.gateway_state, d.active_turns]))
      .toEqual(Option.some(["draining", 2]))
  })

  it("the final state waits for the summary and carries the verdict", () => {
    const end = stopped(markerWritten(stopRequested(ready(initial), unplanned, 1)), Option.none(), 2)
    expect(stateDocument(status(end), identity)).toEqual(Option.none())
    const summary = { classification: "unplanned", signal: "SIGTERM", exit_code: 1, took_ms: 1, turns_drained: 0, turns_interrupted: 0, deadline_fired: null, marker: "missing", at: "x" }
    const document = stateDocument(status(end, { activeTurns: 3, shutdown: summary, exitReason: "r" }), identity)
    expect(document).toEqual(Option.some(expect.objectContaining({
      gateway_state: "running",
      desired_state: "running",
      exit_code: 1,
      exit_reason: "r",
      active_turns: 0,
      shutdown: summary
    })))
  })

  it("systemd hears READY=1 once running and STOPPING=1 with the marker, then the drain's progress", () => {
    const running = announce(nothingAnnounced, status(ready(initial)), 42)
    expect(running.messages).toEqual(["READY=1", "STATUS=running (pid 42)"])
    expect(announce(running.announced, status(ready(initial)), 42).messages).toEqual([])
    const marked = markerWritten(stopRequested(ready(initial), planned, 1))
    const stopping = announce(running.announced, status(marked, { activeTurns: 2 }), 42)
    expect(stopping.messages).toEqual(["STOPPING=1", "STATUS=draining 2 turn(s) (planned)"])
    expect(announce(stopping.announced, status(marked), 42).messages).toEqual(["STATUS=stopping (planned)"])
  })
})

type Event =
  | { readonly _tag: "ready" }
  | { readonly _tag: "stop"; readonly decision: StopDecision }
  | { readonly _tag: "startupFailed" }
  | { readonly _tag: "override"; readonly decision: StopDecision }
  | { readonly _tag: "force" }
  | { readonly _tag: "marker" }
  | { readonly _tag: "stopped" }

const decision = fc.constantFrom(planned, restart, unplanned)
const event: fc.Arbitrary<Event> = fc.oneof(
  fc.constant({ _tag: "ready" as const }),
  decision.map((d) => ({ _tag: "stop" as const, decision: d })),
  fc.constant({ _tag: "startupFailed" as const }),
  decision.map((d) => ({ _tag: "override" as const, decision: d })),
  fc.constant({ _tag: "force" as const }),
  fc.constant({ _tag: "marker" as const }),
  fc.constant({ _tag: "stopped" as const })
)

const apply = (state: LifecycleState, e: Event, now: number): LifecycleState => {
  switch (e._tag) {
    case "ready":
      return ready(state)
    case "stop":
      return stopRequested(state, e.decision, now)
    case "startupFailed":
      return startupFailed(state, now)
    case "override":
      return overridden(state, e.decision)
    case "force":
      return forced(state)
    case "marker":
      return markerWritten(state)
    case "stopped":
      return stopped(state, Option.none(), now)
  }
}

const rank = { Starting: 0, Running: 1, Stopping: 2, Stopped: 3 } as const

describe("lifecycle transitions (property)", () => {
  it.prop("never go back, keep the start of the shutdown, and only an override changes a decision", [fc.array(event, { maxLength: 30 })], ([events]) => {
    let state = initial
    events.forEach((e, i) => {
      const next = apply(state, e, i)
      expect(rank[next._tag]).toBeGreaterThanOrEqual(rank[state._tag])
      if (state._tag === "Stopping" || state._tag === "Stopped") {
        expect((next as { startedAt: number }).startedAt).toBe(state.startedAt)
        if (e._tag !== "override" && !(state._tag === "Stopping" && e._tag === "stopped")) expect(decisionOf(next)).toEqual(decisionOf(state))
      }
      if (state._tag === "Stopped") expect(next).toBe(state)
      if (next._tag === "Stopped") {
        const expected = Option.match(decisionOf(next), { onNone: () => 70, onSome: (d) => ({ planned: 0, restart: 75, unplanned: 1 })[d.classification] })
        expect(next.exitCode).toBe(expected)
      }
      state = next
    })
  })
})
