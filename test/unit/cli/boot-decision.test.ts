// Container boot reconcile (CONTRACT 4): run-intent decides whether a restarted container runs the gateway.
import { describe, expect, it } from "@effect/vitest"
import { bootDecision } from "../../../src/cli/BootCommand.js"

const state = (gateway_state: "running" | "draining" | "stopped" | "startup_failed" | "starting", desired_state?: "running" | "stopped") => ({
  _tag: "Valid" as const,
  value: {
    gateway_state,
    ...(desired_state !== undefined ? { desired_state } : {}),
    pid: 1, start_time: "1", updated_at: "", exit_code: null, exit_reason: null, restart_requested: false,
    active_turns: 0, platforms: {}, supervisor: null, shutdown: null
  }
})

describe("boot decision", () => {
  it("desired_state decides when present", () => {
    expect(bootDecision(state("running", "stopped")).start).toBe(false)
    expect(bootDecision(state("stopped", "running")).start).toBe(true)
  })
  it("without desired_state, gateway_state running or draining means run-intent", () => {
    expect(bootDecision(state("running")).start).toBe(true)
    expect(bootDecision(state("draining")).start).toBe(true)
    expect(bootDecision(state("stopped")).start).toBe(false)
    expect(bootDecision(state("startup_failed")).start).toBe(false)
  })
  it("a first boot, or an unreadable state, starts the gateway", () => {
    expect(bootDecision({ _tag: "Missing" }).start).toBe(true)
    expect(bootDecision({ _tag: "Invalid", reason: "garbage" }).start).toBe(true)
  })
})
