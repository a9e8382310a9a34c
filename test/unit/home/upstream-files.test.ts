// Homes written by the reference Python gateway (CONTRACT 1: same file names) are understood:
// its integer start times, its marker without `action`, its state file without `pid`.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { bootDecision } from "../../../src/cli/BootCommand.js"
import type { FileReading } from "../../../src/home/AtomicFile.js"
import { GatewayStateDocument } from "../../../src/home/GatewayStateFile.js"
import { PidFileDocument } from "../../../src/home/PidFile.js"
import { PlannedStopDocument } from "../../../src/home/PlannedStopFile.js"
import { evaluateMarker } from "../../../src/lifecycle/StopClassification.js"

const decode = <A, I>(schema: Schema.Schema<A, I>) => (json: unknown): FileReading<A> => {
  const result = Schema.decodeUnknownEither(schema)(json)
  return Either.isRight(result) ? { _tag: "Valid", value: result.right } : { _tag: "Invalid", reason: String(result.left) }
}
const decodeMarker = decode(PlannedStopDocument)
const decodeState = decode(GatewayStateDocument)

const self = { pid: 4321, startTime: "40750" }
const now = Date.parse("2026-12-05T00:19:03Z")
const ttl = 60_000

/** What `gateway.status.write_planned_stop_marker` writes: no action, start time as an integer. */
const pythonMarker = (overrides: Record<string, unknown> = {}) => ({
  target_pid: self.pid,
  target_start_time: 40750,
  stopper_pid: 99,
  written_at: "2026-12-05T00:19:02.123456+00:00",
  ...overrides
})

/** What `gateway.status.write_runtime_status` leaves behind after a stop. */
const pythonState = (overrides: Record<string, unknown> = {}) => ({
  pid: 4321,
  kind: "hermes-gateway",
  argv: ["/usr/bin/hermes", "gateway", "run"],
  start_time: 40750,
  gateway_state: "stopped",
  exit_reason: "normal_stop",
  restart_requested: false,
  active_agents: 0,
  platforms: { telegram: { state: "disconnected", error_code: null, error_message: null, updated_at: "2026-12-05T00:19:02+00:00" } },
  session_store: { status: "ok" },
  updated_at: "2026-12-05T00:19:02.500000+00:00",
  ...overrides
})

describe("the Python gateway's planned-stop marker", () => {
  it("decodes: no action means stop, the integer start time is our string form", () => {
    const reading = decodeMarker(pythonMarker())
    expect(reading).toMatchObject({ _tag: "Valid", value: { target_pid: 4321, target_start_time: "40750", action: "stop" } })
  })
  it("naming this incarnation, it makes the SIGTERM planned; another start time is another process", () => {
    expect(evaluateMarker(decodeMarker(pythonMarker()), self, now, ttl)).toMatchObject({ applies: "stop", file: "consume" })
    expect(evaluateMarker(decodeMarker(pythonMarker({ target_start_time: 40749 })), self, now, ttl))
      .toMatchObject({ applies: null, file: "keep" })
  })
  it("a null, fractional or negative start time names no incarnation: unreadable, the safe side", () => {
    for (const target_start_time of [null, 40750.5, -1]) {
      const reading = decodeMarker(pythonMarker({ target_start_time }))
      expect(reading._tag, JSON.stringify(target_start_time)).toBe("Invalid")
      expect(evaluateMarker(reading, self, now, ttl).applies).toBeNull()
    }
  })
  it("our own markers still decode exactly as written", () => {
    const ours = { target_pid: 1, target_start_time: "123", action: "restart", stopper_pid: 2, written_at: "2026-12-05T00:00:00.000Z" }
    expect(decodeMarker(ours)).toEqual({ _tag: "Valid", value: ours })
  })
  it.prop("an integer start time compares equal to the same /proc field-22 value written as a string", {
    ticks: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    other: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    same: fc.boolean()
  }, ({ other, same, ticks }) => {
    const named = same ? ticks : other
    const incarnation = { pid: self.pid, startTime: String(ticks) }
    const verdict = evaluateMarker(decodeMarker(pythonMarker({ target_start_time: named })), incarnation, now, ttl)
    expect(verdict.applies === "stop").toBe(named === ticks)
  })
})

describe("the Python gateway's gateway_state.json", () => {
  it("decodes with a numeric start_time, without pid, and with its own platform fields", () => {
    expect(decodeState(pythonState())).toMatchObject({
      _tag: "Valid",
      value: { gateway_state: "stopped", pid: 4321, start_time: "40750", platforms: { telegram: { state: "disconnected", error: null } } }
    })
    const { pid: _pid, ...withoutPid } = pythonState()
    expect(decodeState(withoutPid)).toMatchObject({ _tag: "Valid", value: { pid: null, start_time: "40750" } })
    expect(decodeState(pythonState({ start_time: null }))).toMatchObject({ _tag: "Valid", value: { start_time: null } })
    // older versions stamped epoch seconds
    expect(decodeState(pythonState({ updated_at: 1796429942.5 })))
      .toMatchObject({ _tag: "Valid", value: { updated_at: "2026-12-05T00:19:02.500Z" } })
    expect(decodeState(pythonState({ updated_at: Number.MAX_VALUE }))._tag).toBe("Invalid")
  })
  it("a stopped upstream gateway keeps boot idle; a running one is started again", () => {
    expect(bootDecision(decodeState(pythonState()))).toMatchObject({ start: false })
    expect(bootDecision(decodeState(pythonState({ gateway_state: "running" })))).toMatchObject({ start: true })
  })
})

describe("the Python gateway's gateway.pid", () => {
  it("decodes without home or started_at, with an integer start time", () => {
    const reading = decode(PidFileDocument)({ pid: 4321, kind: "hermes-gateway", argv: ["hermes"], start_time: 40750, hermes_home: "/data" })
    expect(reading).toMatchObject({ _tag: "Valid", value: { pid: 4321, start_time: "40750" } })
  })
})
