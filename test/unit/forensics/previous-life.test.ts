// The start-up verdict on the previous life: in order, died without shutting down (and why, when the
// kernel log or a watchdog record says), or unknown.
import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import type { FileReading } from "../../../src/home/AtomicFile.js"
import type { CleanShutdownDocument } from "../../../src/home/CleanShutdownFile.js"
import type { GatewayStateDocument } from "../../../src/home/GatewayStateFile.js"
import type { PidFileDocument } from "../../../src/home/PidFile.js"
import {
  describePreviousLife,
  findOomKill,
  previousLifeVerdict,
  readKernelLogTail
} from "../../../src/forensics/PreviousLife.js"

const missing = { _tag: "Missing" } as const
const valid = <A>(value: A): FileReading<A> => ({ _tag: "Valid", value })

const state = (patch: Partial<GatewayStateDocument> = {}): GatewayStateDocument => ({
  gateway_state: "running",
  desired_state: "running",
  pid: 1200,
  start_time: "5000",
  updated_at: "2026-01-01T03:00:00.000Z",
  exit_code: null,
  exit_reason: null,
  restart_requested: false,
  active_turns: 2,
  platforms: {},
  supervisor: null,
  shutdown: null,
  ...patch
})

const pidFile = (patch: Partial<PidFileDocument> = {}): PidFileDocument => ({
  pid: 1200,
  start_time: "5000",
  argv: ["node", "hermes"],
  home: "/h",
  started_at: "2026-01-01T00:00:00.000Z",
  ...patch
})

const clean: CleanShutdownDocument = {
  pid: 1200,
  start_time: "5000",
  classification: "planned",
  written_at: "2026-01-01T01:00:00.000Z"
}

const self = { pid: 1300, startTime: "9000" }

describe("previousLifeVerdict", () => {
  it("a .clean_shutdown means the previous life ended in order, with its classification and uptime", () => {
    const life = previousLifeVerdict({
      cleanShutdown: valid(clean),
      previousState: valid(state({ gateway_state: "draining" })),
      previousPidFile: valid(pidFile()),
      self
    })
    expect(life).toEqual({
      verdict: "ended_in_order",
      pid: 1200,
      classification: "planned",
      last_state: "draining",
      last_update: "2026-01-01T03:00:00.000Z",
      uptime_ms: 3_600_000,
      suspected_oom: false
    })
  })

  it("no .clean_shutdown and a state that claims a live process: died without shutting down", () => {
    const life = previousLifeVerdict({
      cleanShutdown: missing,
      previousState: valid(state()),
      previousPidFile: valid(pidFile()),
      self
    })
    expect(life).toEqual({
      verdict: "died_without_shutdown",
      pid: 1200,
      last_state: "running",
      last_update: "2026-01-01T03:00:00.000Z",
      uptime_ms: 3 * 3_600_000,
      suspected_oom: false
    })
    expect(describePreviousLife(life)).toBe(
      "previous life (pid 1200) died without shutting down, last state running at 2026-01-01T03:00:00.000Z, up 3h: killed (SIGKILL), OOM or power loss"
    )
  })

  it("a clean shutdown reads as one: no 'in order' next to 'unplanned'", () => {
    const base = { verdict: "ended_in_order", pid: 7, suspected_oom: false } as const
    expect(describePreviousLife({ ...base, classification: "unplanned" })).toBe("previous life (pid 7) shut down cleanly after an unplanned stop")
    expect(describePreviousLife({ ...base, classification: "planned" })).toBe("previous life (pid 7) shut down cleanly after a planned stop")
    expect(describePreviousLife({ ...base, classification: "restart" })).toBe("previous life (pid 7) shut down cleanly for a restart")
  })

  it("the kernel log naming the previous pid in an OOM kill makes it a suspected OOM", () => {
    const kernelLogTail = [
      "[ 100.1] something else",
      "[ 200.5] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=node,pid=1200,uid=1000",
      "[ 200.6] Out of memory: Killed process 1200 (node) total-vm:12345kB, anon-rss:999kB"
    ].join("\n")
    const life = previousLifeVerdict({ cleanShutdown: missing, previousState: valid(state()), self, kernelLogTail })
    expect(life.suspected_oom).toBe(true)
    expect(life.oom_evidence).toContain("Killed process 1200")
    expect(describePreviousLife(life)).toContain("the kernel log shows an OOM kill")
  })

  it("an OOM kill of another pid is not evidence", () => {
    const life = previousLifeVerdict({
      cleanShutdown: missing,
      previousState: valid(state()),
      self,
      kernelLogTail: "Out of memory: Killed process 12000 (postgres)\noom_reaper: reaped process 120 (x)"
    })
    expect(life.suspected_oom).toBe(false)
    expect(life.oom_evidence).toBeUndefined()
  })

  it("a stopped previous state, or none, means first start or unknown", () => {
    expect(previousLifeVerdict({ cleanShutdown: missing, previousState: valid(state({ gateway_state: "stopped" })), self }))
      .toEqual({ verdict: "first_start_or_unknown", suspected_oom: false })
    expect(previousLifeVerdict({ cleanShutdown: missing, previousState: missing, self }))
      .toEqual({ verdict: "first_start_or_unknown", suspected_oom: false })
  })

  it("unreadable files are treated as absent and noted", () => {
    const life = previousLifeVerdict({
      cleanShutdown: { _tag: "Invalid", reason: ".clean_shutdown is empty" },
      previousState: { _tag: "Invalid", reason: "gateway_state.json is not valid JSON" },
      self
    })
    expect(life).toEqual({
      verdict: "first_start_or_unknown",
      suspected_oom: false,
      notes: [".clean_shutdown is empty", "gateway_state.json is not valid JSON"]
    })
  })

  it("a state already written by this very incarnation is not a previous life", () => {
    const ours = valid(state({ pid: self.pid, start_time: self.startTime }))
    expect(previousLifeVerdict({ cleanShutdown: missing, previousState: ours, self }).verdict).toBe("first_start_or_unknown")
  })

  it("the same pid with another start time is a previous life (pid 1 in a restarted container)", () => {
    const life = previousLifeVerdict({
      cleanShutdown: missing,
      previousState: valid(state({ pid: 1, start_time: "100" })),
      self: { pid: 1, startTime: "200" }
    })
    expect(life.verdict).toBe("died_without_shutdown")
    expect(life.pid).toBe(1)
  })

  it("a pid file of another incarnation gives no uptime", () => {
    const life = previousLifeVerdict({
      cleanShutdown: missing,
      previousState: valid(state()),
      previousPidFile: valid(pidFile({ start_time: "1" })),
      self
    })
    expect(life.uptime_ms).toBeUndefined()
  })

  it("a loop-stall record of the previous pid names the watchdog as the cause", () => {
    const life = previousLifeVerdict({
      cleanShutdown: missing,
      previousState: valid(state()),
      self,
      recentRecords: [{ event: "start", pid: 1300 }, { event: "loop_stall", pid: 1200, start_time: "5000" }]
    })
    expect(life.watchdog).toBe("loop_stall")
    expect(describePreviousLife(life)).toContain("the event-loop watchdog ended it after a stall (exit 75)")
  })

  it("a hard-deadline record after an orderly start of shutdown is kept with the in-order verdict", () => {
    const life = previousLifeVerdict({
      cleanShutdown: valid(clean),
      previousState: missing,
      self,
      recentRecords: [{ event: "watchdog", pid: 1200, start_time: "5000" }]
    })
    expect(life.verdict).toBe("ended_in_order")
    expect(life.watchdog).toBe("hard_deadline")
    expect(describePreviousLife(life)).toContain("overran the hard deadline")
  })
})

describe("findOomKill", () => {
  it.each([
    ["Out of memory: Killed process 77 (node) total-vm:1kB", 77, true],
    ["Memory cgroup out of memory: Killed process 77 (node)", 77, true],
    ["Out of memory: Kill process 77 (node) score 900 or sacrifice child", 77, true],
    ["oom-kill:constraint=CONSTRAINT_MEMCG,task=node,pid=77,uid=0", 77, true],
    ["oom_reaper: reaped process 77 (node), now anon-rss:0kB", 77, true],
    ["Out of memory: Killed process 770 (node)", 77, false],
    ["oom-kill:constraint=CONSTRAINT_MEMCG,task=node,pid=770,uid=0", 77, false],
    ["process 77 exited normally", 77, false]
  ])("%s (pid %i) -> %s", (line, pid, found) => {
    expect(findOomKill(`[ 1.0] boot\n${line}\n`, pid) !== undefined).toBe(found)
  })
})

describe("readKernelLogTail", () => {
  it.live("returns the tail, or undefined when dmesg is missing or denied, and never fails", () =>
    Effect.gen(function*() {
      const tail = yield* readKernelLogTail({ lines: 5, timeoutMs: 2000 })
      if (tail !== undefined) expect(tail.split("\n").length).toBeLessThanOrEqual(5)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("gives up within its time bound", () =>
    Effect.gen(function*() {
      const started = Date.now()
      yield* readKernelLogTail({ timeoutMs: 1 })
      expect(Date.now() - started).toBeLessThan(2000)
    }).pipe(Effect.provide(NodeContext.layer)))
})
