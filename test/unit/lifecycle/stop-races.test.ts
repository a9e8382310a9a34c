// Pure decisions behind concurrent stops, restarts and late signals: the last planned stop wins
// over a restart (settle), the signal hub never lets a process that claimed signals fall back to the
// 128+n path, the restart parent's handling of signals, and the hand-off seen by stop/restart.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { handOffOf, handOffWindowMs } from "../../../src/cli/HandOff.js"
import type { GatewayStateDocument } from "../../../src/home/GatewayStateFile.js"
import { EnvironmentError, RestartRequested } from "../../../src/lifecycle/GatewayErrors.js"
import { finalExitCode } from "../../../src/lifecycle/Runner.js"
import { handledSignals, makeSignalHub, type ProcessSignal, startsGateway } from "../../../src/lifecycle/SignalHub.js"
import {
  type Classification,
  classify,
  evaluateMarker,
  laterRequestMatters,
  settle,
  type StopRequest
} from "../../../src/lifecycle/StopClassification.js"
import { overridingDecision } from "../../../src/lifecycle/StopFollowUp.js"
import { chainOutcome, parentAction } from "../../../src/lifecycle/Successor.js"

const classification = fc.constantFrom<Classification>("planned", "restart", "unplanned")

describe("the last planned stop wins over a restart (settle)", () => {
  it("a restart becomes a planned stop; nothing else changes a decision", () => {
    expect(settle("restart", "planned")).toBe("planned")
    expect(settle("restart", "unplanned")).toBe("restart")
    expect(settle("restart", "restart")).toBe("restart")
    expect(settle("planned", "restart")).toBe("planned")
    expect(settle("unplanned", "planned")).toBe("unplanned")
  })

  it.prop("a planned or unplanned first decision sticks whatever follows", {
    first: fc.constantFrom<Classification>("planned", "unplanned"),
    later: fc.array(classification, { maxLength: 8 })
  }, ({ first, later }) => {
    expect(later.reduce(settle, first)).toBe(first)
  })

  it.prop("after a restart the outcome is planned exactly when some later request is a planned stop", {
    later: fc.array(classification, { maxLength: 8 })
  }, ({ later }) => {
    expect(later.reduce(settle, "restart" as Classification)).toBe(later.includes("planned") ? "planned" : "restart")
  })

  it.prop("settling is idempotent and never turns a stop into a restart", {
    current: classification,
    later: classification
  }, ({ current, later }) => {
    const once = settle(current, later)
    expect(settle(once, later)).toBe(once)
    if (current !== "restart") expect(once).toBe(current)
    if (once === "restart") expect(current).toBe("restart")
  })

  it("a later request is classified (its marker read) only while the decision is a restart", () => {
    expect(laterRequestMatters("restart")).toBe(true)
    expect(laterRequestMatters("planned")).toBe(false)
    expect(laterRequestMatters("unplanned")).toBe(false)
  })

  const self = { pid: 10, startTime: "7" }
  const stopMarker = evaluateMarker({
    _tag: "Valid",
    value: { target_pid: 10, target_start_time: "7", action: "stop", stopper_pid: 1, written_at: new Date().toISOString() }
  }, self, Date.now(), 60_000)

  it.effect("overridingDecision: a SIGTERM with a stop marker during a restart overrides it; without one it does not", () =>
    Effect.gen(function*() {
      const current = { classification: "restart" as Classification, marker: "names self, action restart" }
      const sigterm: StopRequest = { _tag: "Signal", signal: "SIGTERM" }
      const planned = yield* overridingDecision(current, sigterm, Effect.succeed(stopMarker))
      expect(Option.map(planned, (d) => d.classification)).toEqual(Option.some("planned"))
      const plain = yield* overridingDecision(current, sigterm, Effect.succeed({ applies: null, file: "none", note: "absent" }))
      expect(plain).toEqual(Option.none())
      // SIGINT is a planned stop by itself; the marker is never read for it.
      const ctrlC = yield* overridingDecision(current, { _tag: "Signal", signal: "SIGINT" }, Effect.die("not read"))
      expect(Option.map(ctrlC, (d) => d.classification)).toEqual(Option.some("planned"))
      // A planned stop is never re-read, whatever comes.
      const kept = yield* overridingDecision({ ...current, classification: "planned" }, sigterm, Effect.die("not read"))
      expect(kept).toEqual(Option.none())
      expect(classify(sigterm, stopMarker)).toBe("planned")
    }))
})

/** A hub over fake process listeners: `fire` delivers a signal as the kernel would. */
const fakeHub = () => {
  const handlers = new Map<ProcessSignal, () => void>()
  const hub = makeSignalHub((signal, handler) => handlers.set(signal, handler))
  return { hub, fire: (signal: ProcessSignal) => handlers.get(signal)!() }
}

describe("signal hub", () => {
  it("every handled signal has a listener from the start", () => {
    const handlers = new Set<string>()
    makeSignalHub((signal) => handlers.add(signal))
    expect([...handlers].sort()).toEqual([...handledSignals].sort())
  })

  it("a command that never claims: signals before the fallback wait for it, later ones go straight to it", () => {
    const { fire, hub } = fakeHub()
    const seen: Array<string> = []
    fire("SIGTERM")
    hub.setFallback((s) => seen.push(s))
    fire("SIGINT")
    expect(seen).toEqual(["SIGTERM", "SIGINT"])
  })

  it("a gateway holds signals until it claims them, then gets them in order", () => {
    const { fire, hub } = fakeHub()
    const fallback: Array<string> = []
    const claimed: Array<string> = []
    hub.holdForGateway()
    hub.setFallback((s) => fallback.push(s))
    fire("SIGTERM")
    fire("SIGHUP")
    expect(hub.held()).toEqual(["SIGTERM", "SIGHUP"])
    hub.claim((s) => claimed.push(s))
    expect(claimed).toEqual(["SIGTERM", "SIGHUP"])
    expect(fallback).toEqual([])
  })

  it("signals given back or arriving between two claimants go to the next one", () => {
    const { fire, hub } = fakeHub()
    const first: Array<string> = []
    const second: Array<string> = []
    const release = hub.claim((s) => first.push(s))
    fire("SIGUSR1")
    hub.giveBack("SIGTERM")
    release()
    fire("SIGHUP")
    hub.claim((s) => second.push(s))
    expect(first).toEqual(["SIGUSR1"])
    expect(second).toEqual(["SIGTERM", "SIGHUP"])
  })

  type Step =
    | { readonly _tag: "fire"; readonly signal: ProcessSignal }
    | { readonly _tag: "claim" }
    | { readonly _tag: "release" }
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.constantFrom(...handledSignals).map((signal) => ({ _tag: "fire" as const, signal })),
    fc.constant({ _tag: "claim" as const }),
    fc.constant({ _tag: "release" as const })
  )

  it.prop("once signals were claimed, no signal ever reaches the fallback, and none is lost or duplicated", {
    steps: fc.array(step, { maxLength: 30 })
  }, ({ steps }) => {
    const { fire, hub } = fakeHub()
    let fallbackCalls = 0
    hub.setFallback(() => fallbackCalls++)
    const delivered: Array<ProcessSignal> = []
    const fired: Array<ProcessSignal> = []
    let release: (() => void) | undefined = hub.claim((s) => delivered.push(s))
    for (const s of steps) {
      if (s._tag === "fire") {
        fired.push(s.signal)
        fire(s.signal)
      } else if (s._tag === "claim") {
        release = hub.claim((signal) => delivered.push(signal))
      } else {
        release?.()
      }
    }
    expect(fallbackCalls).toBe(0)
    expect([...delivered, ...hub.held()]).toEqual(fired)
  })

  it("a gateway's command line is recognised before the parser is loaded", () => {
    expect(startsGateway(["gateway", "run"])).toBe(true)
    expect(startsGateway(["gateway", "run", "--home", "/h"])).toBe(true)
    expect(startsGateway(["gateway", "--home", "run", "boot"])).toBe(true)
    expect(startsGateway(["gateway", "boot"])).toBe(true)
    expect(startsGateway(["gateway", "stop", "--home", "run"])).toBe(false)
    expect(startsGateway(["gateway", "status"])).toBe(false)
    expect(startsGateway([])).toBe(false)
  })
})

describe("exit code of the process (runner)", () => {
  it("a gateway that ended before it claimed a held SIGTERM/SIGHUP did not stop as planned; Ctrl+C did", () => {
    const held = (signals: Array<ProcessSignal>) => {
      const { fire, hub } = fakeHub()
      hub.holdForGateway()
      signals.forEach(fire)
      return hub
    }
    expect(finalExitCode(Exit.void, held(["SIGTERM"]))).toBe(1)
    expect(finalExitCode(Exit.void, held(["SIGHUP"]))).toBe(1)
    expect(finalExitCode(Exit.void, held(["SIGINT"]))).toBe(0)
    expect(finalExitCode(Exit.void, held([]))).toBe(0)
    expect(finalExitCode(Exit.fail(new EnvironmentError({ message: "read-only home" })), held(["SIGTERM"]))).toBe(78)
  })

  it("a gateway that claimed its signals exits by the table, whatever is left unclaimed", () => {
    const { fire, hub } = fakeHub()
    hub.claim(() => {})()
    fire("SIGTERM")
    expect(finalExitCode(Exit.void, hub)).toBe(0)
    expect(finalExitCode(Exit.fail(new RestartRequested({ message: "SIGUSR1" })), hub)).toBe(75)
  })
})

describe("restart parent", () => {
  const verdict = (applies: "stop" | "restart" | null) => ({ applies, file: "consume" as const, note: "" })

  it("a planned stop naming the parent stops the successor as planned; a restart naming it is the one under way", () => {
    expect(parentAction("SIGTERM", verdict("stop"))).toBe("stop")
    expect(parentAction("SIGHUP", verdict("stop"))).toBe("stop")
    expect(parentAction("SIGTERM", verdict("restart"))).toBe("coalesce")
    expect(parentAction("SIGTERM", verdict(null))).toBe("forward")
    expect(parentAction("SIGUSR1", null)).toBe("forward")
    expect(parentAction("SIGINT", verdict("stop"))).toBe("leave")
    // a Ctrl+C held from before the successor existed never reached it: passed on as a stop
    expect(parentAction("SIGINT", null, true)).toBe("stop")
  })

  it("before the successor holds the home, an unmarked SIGTERM/SIGHUP cannot end the restart; a stop marker still wins", () => {
    for (const signal of ["SIGTERM", "SIGHUP"] as const) {
      expect(parentAction(signal, verdict(null), false, false)).toBe("coalesce")
      expect(parentAction(signal, null, false, false)).toBe("coalesce")
      expect(parentAction(signal, verdict("stop"), false, false)).toBe("stop")
      expect(parentAction(signal, verdict(null), false, true)).toBe("forward")
    }
    expect(parentAction("SIGUSR1", null, false, false)).toBe("forward")
  })

  it.prop("the chain ends with 0 once a planned stop was passed on, unless the successor failed otherwise", {
    code: fc.constantFrom(0, 1, 69, 70, 75, 78, 143),
    signal: fc.constantFrom<NodeJS.Signals | null>(null, "SIGTERM", "SIGINT", "SIGKILL"),
    stopPassedOn: fc.boolean()
  }, ({ code, signal, stopPassedOn }) => {
    const outcome = chainOutcome({ code, signal, stopPassedOn })
    if (stopPassedOn && (code === 0 || code === 75 || signal === "SIGTERM" || signal === "SIGINT")) {
      expect(outcome).toEqual({ done: true, code: 0 })
    } else {
      expect(outcome).toEqual({ done: code !== 75, code })
    }
    // a planned stop passed on never starts another successor
    if (stopPassedOn) expect(outcome.done).toBe(true)
  })
})

describe("hand-off seen by stop/restart", () => {
  const now = Date.parse("2026-12-05T00:00:00Z")
  const state = (overrides: Partial<GatewayStateDocument>, ageMs = 1000) => ({
    _tag: "Valid" as const,
    value: {
      gateway_state: "stopped",
      desired_state: "running",
      pid: 42,
      start_time: "99",
      updated_at: new Date(now - ageMs).toISOString(),
      exit_code: 75,
      exit_reason: null,
      restart_requested: true,
      active_turns: 0,
      platforms: {},
      supervisor: null,
      shutdown: null,
      ...overrides
    } as GatewayStateDocument
  })

  it("a fresh final state of a restart is a hand-off naming the old incarnation", () => {
    expect(handOffOf(state({}), now)).toEqual(Option.some({ old: { pid: 42, startTime: "99" }, since: now - 1000 }))
  })
  it("a planned stop, a running gateway, an old restart or no state is none", () => {
    expect(handOffOf(state({ restart_requested: false, desired_state: "stopped" }), now)).toEqual(Option.none())
    expect(handOffOf(state({ gateway_state: "running" }), now)).toEqual(Option.none())
    expect(handOffOf(state({}, handOffWindowMs + 1), now)).toEqual(Option.none())
    expect(handOffOf({ _tag: "Missing" }, now)).toEqual(Option.none())
  })
})
