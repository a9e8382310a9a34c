// Effect's metric registry is global to the process: every test here uses platform names of its
// own, and reads values from the rendered exposition the way a scraper would.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { IntakeClosed, TurnEvent, type TurnIntake, type TurnOutcome } from "../../../src/adapters/Adapter.js"
import {
  messagesRefusedTotal,
  processStartTimeSeconds,
  prometheusExposition,
  recordActiveTurns,
  recordOutcome,
  recordPlatformStates,
  recordRefusal,
  timedCommit,
  turnDurationSeconds,
  turnsTotal
} from "../../../src/metrics/GatewayMetrics.js"
import { meteredIntake } from "../../../src/metrics/MeteredIntake.js"
import { newestShutdown, recordStartUp } from "../../../src/metrics/StartUpMetrics.js"
import { fromSubmit } from "../adapters/IntakeFakes.js"

/** The value of one series in an exposition, or undefined when absent. */
const sampleValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const ids = { turnId: "t1", sessionId: "s1" }

const scriptedIntake = (outcomes: Array<TurnOutcome | "closed">): TurnIntake => fromSubmit({
  active: Effect.succeed(0),
  resume: () => Stream.dieMessage("not used"),
  submit: () =>
    Stream.suspend(() => {
      const next = outcomes.shift()!
      return next === "closed" ? Stream.fail(new IntakeClosed({ message: "closed" })) : Stream.make(TurnEvent.Outcome({ outcome: next }))
    })
})

const inbound = (platform: string) => ({ platform, sessionKey: undefined, text: "hi", history: [] })

describe("gateway metrics", () => {
  it.effect("a metered intake counts turns by outcome with their duration, and refusals by reason", () =>
    Effect.gen(function*() {
      const platform = "metered-test"
      const intake = meteredIntake(
        scriptedIntake([
          { _tag: "Completed", ids, reply: "ok" },
          { _tag: "Completed", ids, reply: "ok" },
          { _tag: "Failed", ids, message: "agent down" },
          { _tag: "Refused", reason: "session_suspended", message: "suspended" },
          { _tag: "Refused", reason: "storage", message: "disk" },
          "closed"
        ]),
        platform
      )
      for (let i = 0; i < 6; i++) yield* Effect.exit(Stream.runDrain(intake.submit(inbound(platform))))
      const text = yield* prometheusExposition
      const p = `platform="${platform}"`
      expect(sampleValue(text, `hermes_turns_total{outcome="completed",${p}}`)).toBe(2)
      expect(sampleValue(text, `hermes_turns_total{outcome="failed",${p}}`)).toBe(1)
      expect(sampleValue(text, `hermes_turn_duration_seconds_count{outcome="completed",${p}}`)).toBe(2)
      expect(sampleValue(text, `hermes_turn_duration_seconds_bucket{outcome="completed",${p},le="+Inf"}`)).toBe(2)
      expect(sampleValue(text, `hermes_messages_refused_total{${p},reason="suspended"}`)).toBe(1)
      expect(sampleValue(text, `hermes_messages_refused_total{${p},reason="storage"}`)).toBe(1)
      expect(sampleValue(text, `hermes_messages_refused_total{${p},reason="draining"}`)).toBe(1)
      // Refusals are not turns.
      expect(text).not.toContain(`hermes_turns_total{outcome="refused"`)
    }))

  it.effect("a platform's current state is 1 and the states it left are 0", () =>
    Effect.gen(function*() {
      yield* recordPlatformStates({ "state-test": { state: "connected" } })
      yield* recordPlatformStates({ "state-test": { state: "retrying" }, "state-test-2": { state: "connected" } })
      const text = yield* prometheusExposition
      expect(sampleValue(text, `hermes_adapter_state{platform="state-test",state="connected"}`)).toBe(0)
      expect(sampleValue(text, `hermes_adapter_state{platform="state-test",state="retrying"}`)).toBe(1)
      expect(sampleValue(text, `hermes_adapter_state{platform="state-test-2",state="connected"}`)).toBe(1)
    }))

  it.effect("timedCommit observes each operation, failed ones included", () =>
    Effect.gen(function*() {
      const before = sampleValue(yield* prometheusExposition, "hermes_session_db_commit_seconds_count") ?? 0
      yield* timedCommit(Effect.void)
      yield* Effect.exit(timedCommit(Effect.fail("boom")))
      expect(sampleValue(yield* prometheusExposition, "hermes_session_db_commit_seconds_count")).toBe(before + 2)
    }))

  it.effect("a turn's series are the ones Metric.tagged names (made once per label set, counted every time)", () =>
    Effect.gen(function*() {
      const completed = { _tag: "Completed", ids, reply: "r" } as TurnOutcome
      for (let i = 0; i < 3; i++) yield* recordOutcome("labelled-test", completed, 0.2)
      yield* recordRefusal("labelled-test", "busy")
      yield* recordRefusal("labelled-test", "busy")
      const tagged = <T extends Metric.Metric<any, any, any>>(metric: T, second: string, value: string) =>
        Metric.tagged(Metric.tagged(metric, "platform", "labelled-test"), second, value)
      expect((yield* Metric.value(tagged(turnsTotal, "outcome", "completed"))).count).toBe(3)
      expect((yield* Metric.value(tagged(turnDurationSeconds, "outcome", "completed"))).count).toBe(3)
      expect((yield* Metric.value(tagged(messagesRefusedTotal, "reason", "busy"))).count).toBe(2)
      const text = yield* prometheusExposition
      expect(sampleValue(text, `hermes_turns_total{outcome="completed",platform="labelled-test"}`)).toBe(3)
      expect(sampleValue(text, `hermes_messages_refused_total{platform="labelled-test",reason="busy"}`)).toBe(2)
    }))

  it.effect("every family keeps its name, type, help text and buckets (README, HTTP API lists them)", () =>
    Effect.gen(function*() {
      yield* recordOutcome("families-test", { _tag: "Completed" } as TurnOutcome, 0.3)
      yield* recordRefusal("families-test", "draining")
      yield* recordActiveTurns(0)
      yield* recordPlatformStates({ "families-test": { state: "connected" } })
      yield* timedCommit(Effect.void)
      yield* Metric.set(processStartTimeSeconds, 1)
      const text = yield* prometheusExposition
      const header = (name: string, type: string, help: string) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`
      expect(text).toContain(header("hermes_turns_total", "counter", "Turns that ended, by platform and outcome (completed, failed, interrupted, duplicate)."))
      expect(text).toContain(header("hermes_turn_duration_seconds", "histogram", "From a message handed to the gateway to the turn's outcome, by platform and outcome."))
      expect(text).toContain(header("hermes_active_turns", "gauge", "Turns running now."))
      expect(text).toContain(header("hermes_messages_refused_total", "counter", "Messages refused without a turn, by platform and reason (starting, draining, suspended, storage, busy)."))
      expect(text).toContain(header("hermes_adapter_state", "gauge", "1 for each platform's current state (as in gateway_state.json), 0 for states it has left."))
      expect(text).toContain(header("hermes_session_db_commit_seconds", "histogram", "Session database operations, each one transaction up to its commit (synchronous=FULL)."))
      expect(text).toContain(header("hermes_process_start_time_seconds", "gauge", "When this gateway process started, in seconds since the epoch."))
      const bounds = (series: string) =>
        text.split("\n").filter((l) => l.startsWith(`${series}_bucket{`) && (series !== "hermes_turn_duration_seconds" || l.includes("families-test")))
          .map((l) => /le="([^"]+)"/.exec(l)?.[1])
      expect(bounds("hermes_turn_duration_seconds")).toEqual(["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "+Inf"])
      expect(bounds("hermes_session_db_commit_seconds")).toEqual(
        ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
      )
    }))

  it("newestShutdown takes the first decodable shutdown record, skipping other events and torn ones", () => {
    const shutdown = (exit_code: number) => ({
      event: "shutdown", classification: "planned_stop", signal: "SIGTERM", exit_code, took_ms: 1200,
      turns_drained: 0, turns_interrupted: 0, deadline_fired: null, at: "2026-01-01T00:00:00.000Z",
      phases: [{ name: "drain", started_at_ms: 0, took_ms: 1000, outcome: "ok" }]
    })
    const found = newestShutdown([{ event: "start", at: "x", pid: 1 }, { event: "shutdown" }, shutdown(0), shutdown(75)])
    expect(found._tag === "Some" && found.value.exit_code).toBe(0)
    expect(newestShutdown([null, "x", { event: "start" }])._tag).toBe("None")
  })

  it.effect("start-up records the process start and the last shutdown's exit code and phases", () =>
    Effect.gen(function*() {
      yield* recordStartUp(1_700_000_000_500, [{
        event: "shutdown", classification: "planned_stop", signal: "SIGTERM", exit_code: 75, took_ms: 2500,
        turns_drained: 1, turns_interrupted: 0, deadline_fired: null, at: "2026-01-01T00:00:00.000Z",
        phases: [
          { name: "drain", started_at_ms: 0, took_ms: 2000, outcome: "ok" },
          { name: "close_session_db", started_at_ms: 2000, took_ms: 5, outcome: "timeout" }
        ]
      }])
      const text = yield* prometheusExposition
      expect(sampleValue(text, "hermes_process_start_time_seconds")).toBe(1_700_000_000.5)
      expect(sampleValue(text, "hermes_last_shutdown_exit_code")).toBe(75)
      expect(sampleValue(text, "hermes_last_shutdown_duration_seconds")).toBe(2.5)
      expect(sampleValue(text, "hermes_last_shutdown_timestamp_seconds")).toBe(Date.parse("2026-01-01T00:00:00.000Z") / 1000)
      expect(sampleValue(text, `hermes_last_shutdown_phase_seconds{outcome="ok",phase="drain"}`)).toBe(2)
      expect(sampleValue(text, `hermes_last_shutdown_phase_seconds{outcome="timeout",phase="close_session_db"}`)).toBe(0.005)
    }))
})
