// Effect's metric registry is global to the process: every test here uses platform names of its
// own, and reads values from the rendered exposition the way a scraper would.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { IntakeClosed, TurnEvent, type TurnIntake, type TurnOutcome } from "../../../src/adapters/Adapter.js"
import { prometheusExposition, recordPlatformStates, timedCommit } from "../../../src/metrics/GatewayMetrics.js"
import { meteredIntake } from "../../../src/metrics/MeteredIntake.js"
import { newestShutdown, recordStartUp } from "../../../src/metrics/StartUpMetrics.js"

/** The value of one series in an exposition, or undefined when absent. */
const sampleValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const ids = { turnId: "t1", sessionId: "s1" }

const scriptedIntake = (outcomes: Array<TurnOutcome | "closed">): TurnIntake => ({
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
