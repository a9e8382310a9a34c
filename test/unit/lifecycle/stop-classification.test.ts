// The decision tables of CONTRACT 3.1/3.2: marker validity, classification, follow-ups, verdicts.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Exit from "effect/Exit"
import { sessionDbStartupError, UnplannedStop } from "../../../src/lifecycle/GatewayErrors.js"
import { ExitCode, exitCodeOf } from "../../../src/lifecycle/ExitCode.js"
import {
  classify,
  evaluateMarker,
  exitVerdict,
  followUp,
  type MarkerReading,
  type StopRequest
} from "../../../src/lifecycle/StopClassification.js"

const self = { pid: 1000, startTime: "555" }
const now = Date.parse("2026-11-21T12:00:00Z")
const ttl = 60_000
const marker = (overrides: Partial<{ target_pid: number; target_start_time: string; action: "stop" | "restart"; ageMs: number }>): MarkerReading => ({
  _tag: "Valid",
  value: {
    target_pid: overrides.target_pid ?? self.pid,
    target_start_time: overrides.target_start_time ?? self.startTime,
    action: overrides.action ?? "stop",
    stopper_pid: 1,
    written_at: new Date(now - (overrides.ageMs ?? 1000)).toISOString()
  }
})
const sigterm: StopRequest = { _tag: "Signal", signal: "SIGTERM" }

describe("planned-stop marker", () => {
  it("a fresh marker naming this pid and start time applies and is consumed", () => {
    expect(evaluateMarker(marker({}), self, now, ttl)).toMatchObject({ applies: "stop", file: "consume" })
    expect(evaluateMarker(marker({ action: "restart" }), self, now, ttl)).toMatchObject({ applies: "restart", file: "consume" })
  })
  it("the same pid with another start time is another process: left alone while fresh", () => {
    expect(evaluateMarker(marker({ target_start_time: "1" }), self, now, ttl)).toMatchObject({ applies: null, file: "keep" })
  })
  it("another pid's expired marker is removed; our own expired marker is consumed but does not apply", () => {
    expect(evaluateMarker(marker({ target_pid: 7, ageMs: ttl + 1 }), self, now, ttl)).toMatchObject({ applies: null, file: "consume" })
    expect(evaluateMarker(marker({ ageMs: ttl + 1 }), self, now, ttl)).toMatchObject({ applies: null, file: "consume" })
  })
  it("missing does nothing; unreadable is absent (the safe side) and removed", () => {
    expect(evaluateMarker({ _tag: "Missing" }, self, now, ttl)).toMatchObject({ applies: null, file: "none" })
    expect(evaluateMarker({ _tag: "Invalid", reason: "truncated" }, self, now, ttl)).toMatchObject({ applies: null, file: "consume" })
  })
  it("a marker stamped far in the future does not apply", () => {
    expect(evaluateMarker(marker({ ageMs: -60_000 }), self, now, ttl).applies).toBeNull()
  })
  it.prop("applies exactly when it names this incarnation and is at most ttl old", {
    pid: fc.integer({ min: 999, max: 1001 }),
    start: fc.constantFrom("555", "556"),
    ageMs: fc.integer({ min: -4_000, max: 2 * ttl })
  }, ({ ageMs, pid, start }) => {
    const verdict = evaluateMarker(marker({ target_pid: pid, target_start_time: start, ageMs }), self, now, ttl)
    const ours = pid === self.pid && start === self.startTime
    expect(verdict.applies !== null).toBe(ours && ageMs <= ttl)
    // a fresh marker for somebody else is never deleted by us
    if (!ours && ageMs <= ttl) expect(verdict.file).toBe("keep")
  })
})

describe("classification", () => {
  const none = evaluateMarker({ _tag: "Missing" }, self, now, ttl)
  const stop = evaluateMarker(marker({}), self, now, ttl)
  const restart = evaluateMarker(marker({ action: "restart" }), self, now, ttl)
  it("SIGTERM and SIGHUP follow the marker: stop → planned, restart → restart, none → unplanned", () => {
    for (const signal of ["SIGTERM", "SIGHUP"] as const) {
      expect(classify({ _tag: "Signal", signal }, stop)).toBe("planned")
      expect(classify({ _tag: "Signal", signal }, restart)).toBe("restart")
      expect(classify({ _tag: "Signal", signal }, none)).toBe("unplanned")
    }
  })
  it("SIGINT is planned and SIGUSR1 a restart whatever the marker says", () => {
    for (const m of [none, stop, restart]) {
      expect(classify({ _tag: "Signal", signal: "SIGINT" }, m)).toBe("planned")
      expect(classify({ _tag: "Signal", signal: "SIGUSR1" }, m)).toBe("restart")
    }
  })
  it("a stop over the control channel is planned", () => {
    expect(classify({ _tag: "Control", action: "stop", by: "test" }, none)).toBe("planned")
  })
  it("a later SIGTERM/SIGINT/SIGHUP forces; a later SIGUSR1 is ignored", () => {
    expect(followUp(sigterm)).toBe("force")
    expect(followUp({ _tag: "Signal", signal: "SIGINT" })).toBe("force")
    expect(followUp({ _tag: "Signal", signal: "SIGHUP" })).toBe("force")
    expect(followUp({ _tag: "Signal", signal: "SIGUSR1" })).toBe("ignore")
  })
})

describe("exit verdict", () => {
  it("planned → 0 stopped/stopped; restart → 75 stopped/running; unplanned → 1 and run-intent kept", () => {
    expect(exitVerdict("planned")).toEqual({ exitCode: 0, gatewayState: "stopped", desiredState: "stopped", restartRequested: false })
    expect(exitVerdict("restart")).toEqual({ exitCode: 75, gatewayState: "stopped", desiredState: "running", restartRequested: true })
    expect(exitVerdict("unplanned")).toEqual({ exitCode: 1, gatewayState: "running", desiredState: "running", restartRequested: false })
  })
  it("the exit-code table: success 0, typed errors their own code, untyped failures and defects 70", () => {
    expect(exitCodeOf(Exit.void)).toBe(ExitCode.PlannedStop)
    expect(exitCodeOf(Exit.fail(new UnplannedStop({ message: "x" })))).toBe(1)
    // Only errors built by ExitingError carry a code: a look-alike object is a bug, not a verdict.
    expect(exitCodeOf(Exit.fail({ exitCode: 78 }))).toBe(70)
    expect(exitCodeOf(Exit.fail(new Error("no code")))).toBe(70)
    expect(exitCodeOf(Exit.fail({ exitCode: 12345 }))).toBe(70)
    expect(exitCodeOf(Exit.die(new Error("bug")))).toBe(70)
  })
})

describe("session database at start-up", () => {
  it("a full disk or an I/O error is temporary (69); anything else is the environment (78)", () => {
    expect(sessionDbStartupError("cannot open: SQLITE_FULL: database or disk is full").exitCode).toBe(69)
    expect(sessionDbStartupError("ENOSPC: no space left on device, write").exitCode).toBe(69)
    expect(sessionDbStartupError("disk I/O error").exitCode).toBe(69)
    expect(sessionDbStartupError("EACCES: permission denied, open '/h/state.db'").exitCode).toBe(78)
  })
})
