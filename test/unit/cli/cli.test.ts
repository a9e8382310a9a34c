// Small pure pieces of the command line.
import { describe, expect, it } from "@effect/vitest"
import { normalizeArgv } from "../../../src/cli/Cli.js"
import { statusVerdict } from "../../../src/cli/StatusCommand.js"

const state = (gateway_state: "running" | "stopped" | "draining" | "starting" | "startup_failed") => ({
  gateway_state,
  pid: 1,
  start_time: "1",
  updated_at: "",
  exit_code: null,
  exit_reason: null,
  restart_requested: false,
  active_turns: 0,
  platforms: {},
  supervisor: null,
  shutdown: null
})

describe("command line", () => {
  it("an empty --pid= becomes an empty value, other arguments are untouched", () => {
    expect(normalizeArgv(["gateway", "stop", "--mark-only", "--pid="])).toEqual(["gateway", "stop", "--mark-only", "--pid", ""])
    expect(normalizeArgv(["--pid=12", "--home=/x", "run"])).toEqual(["--pid=12", "--home=/x", "run"])
  })
  it("status: alive is running; dead but recorded running/draining/starting is 'dead'; else not running", () => {
    expect(statusVerdict(true, undefined)).toBe("running")
    expect(statusVerdict(false, state("running"))).toBe("dead")
    expect(statusVerdict(false, state("draining"))).toBe("dead")
    expect(statusVerdict(false, state("stopped"))).toBe("not_running")
    expect(statusVerdict(false, state("startup_failed"))).toBe("not_running")
    expect(statusVerdict(false, undefined)).toBe("not_running")
  })
})
