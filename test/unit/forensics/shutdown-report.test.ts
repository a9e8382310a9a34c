// Reading logs/lifecycle.jsonl back from its end, tolerating anything a crash or a human leaves in it,
// and telling each record as a story a newcomer can follow.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ShutdownSummary } from "../../../src/home/GatewayStateFile.js"
import type { PhaseRecord } from "../../../src/lifecycle/Gateway.js"
import type { ReportedRecord, ShutdownPhase, ShutdownRecord } from "../../../src/forensics/LifecycleRecord.js"
import { parseLifecycleLine, readLifecycleLog } from "../../../src/forensics/ShutdownReport.js"
import { renderRecord, renderReport } from "../../../src/forensics/ShutdownReportText.js"

// The reader's schema must accept what the kernel writes: these fail to compile if they drift apart.
const phaseFromKernel: ShutdownPhase = {} as PhaseRecord
const summaryFromKernel: Omit<ShutdownRecord, "event" | "phases" | "exit_reason"> = {} as ShutdownSummary
void phaseFromKernel
void summaryFromKernel

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-report-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})
const logFile = () => path.join(dir, "lifecycle.jsonl")

const shutdown = (at: string, patch: Record<string, unknown> = {}) => ({
  event: "shutdown",
  classification: "planned",
  signal: "SIGTERM",
  exit_code: 0,
  took_ms: 2345,
  turns_drained: 3,
  turns_interrupted: 0,
  deadline_fired: null,
  at,
  exit_reason: "planned stop (SIGTERM; marker names self, action stop)",
  phases: [
    { name: "clean_shutdown_marker", started_at_ms: 0, took_ms: 4, outcome: "ok" },
    { name: "stop_intake", started_at_ms: 4, took_ms: 1, outcome: "ok" },
    { name: "notify_chats", started_at_ms: 5, took_ms: 2, outcome: "ok" },
    { name: "drain", started_at_ms: 7, took_ms: 2100, outcome: "ok" },
    { name: "interrupt_turns", started_at_ms: 2107, took_ms: 0, outcome: "ok" },
    { name: "disconnect_adapters", started_at_ms: 2107, took_ms: 200, outcome: "timeout" },
    { name: "close_session_db", started_at_ms: 2307, took_ms: 30, outcome: "failed", detail: "Error: disk gone" },
    { name: "final_state", started_at_ms: 2337, took_ms: 8, outcome: "ok" }
  ],
  ...patch
})

const start = (at: string, pid: number, previous_life: Record<string, unknown>) => ({
  event: "start",
  at,
  pid,
  start_time: "1",
  argv: ["node", "hermes", "gateway", "run"],
  previous_life
})

const writeLines = (lines: ReadonlyArray<string>, trailingNewline = true) =>
  fs.writeFileSync(logFile(), lines.join("\n") + (trailingNewline ? "\n" : ""))

const line = (record: unknown) => JSON.stringify(record)

/** A realistic log with what a crash and a careless edit leave behind. */
const fixture = () => {
  writeLines([
    line(start("2026-01-01T00:00:00.000Z", 100, { verdict: "first_start_or_unknown" })),
    "this is not json",
    line(shutdown("2026-01-01T01:00:00.000Z")),
    "",
    "[1, 2, 3]",
    line({ event: "shutdown", at: "2026-01-01T01:30:00.000Z" }),
    line({ event: "something_new", at: "2026-01-01T01:40:00.000Z" }),
    line(start("2026-01-01T02:00:00.000Z", 200, { verdict: "ended_in_order", pid: 100, classification: "planned" })),
    line({
      event: "watchdog",
      deadline_fired: "hard",
      deadline_ms: 35000,
      phase: "disconnect_adapters",
      armed_at: "2026-01-01T03:00:00.000Z",
      at: "2026-01-01T03:00:35.000Z",
      exit_code: 70,
      pid: 200,
      start_time: "1",
      signal: "SIGTERM",
      classification: "unplanned",
      marker: "\"absent\""
    }),
    line(start("2026-01-01T04:00:00.000Z", 300, { verdict: "ended_in_order", pid: 200, classification: "unplanned", watchdog: "hard_deadline" })),
    line({
      event: "loop_stall",
      at: "2026-01-01T05:00:00.000Z",
      stall_timeout_ms: 60000,
      stalled_ms: 60250,
      exit_code: 75,
      report: "/h/logs/loop-stall-20260101T050000.000Z-300.report.json",
      report_view: "main",
      pid: 300
    }),
    line(start("2026-01-01T06:00:00.000Z", 400, {
      verdict: "died_without_shutdown",
      pid: 300,
      last_state: "running",
      last_update: "2026-01-01T04:59:00.000Z",
      suspected_oom: false,
      watchdog: "loop_stall"
    })),
    "{\"event\":\"shutdown\",\"classification\":\"unpl" // torn by a crash mid-write
  ], false)
}

describe("parseLifecycleLine", () => {
  it("classifies records, unknown events, blanks and garbage", () => {
    expect(parseLifecycleLine(line(shutdown("2026-01-01T00:00:00.000Z")))._tag).toBe("Record")
    expect(parseLifecycleLine(line({ event: "diagnostic" }))._tag).toBe("Other")
    expect(parseLifecycleLine("   ")._tag).toBe("Blank")
    expect(parseLifecycleLine("nope")).toMatchObject({ _tag: "Bad", reason: expect.stringContaining("not JSON") })
    expect(parseLifecycleLine("null")).toMatchObject({ _tag: "Bad", reason: "not a JSON object" })
    expect(parseLifecycleLine("{\"at\":1}")).toMatchObject({ _tag: "Bad", reason: "record without an event" })
    expect(parseLifecycleLine(line({ event: "shutdown", at: "x" }))).toMatchObject({
      _tag: "Bad",
      reason: expect.stringContaining("shutdown record with an unexpected shape")
    })
  })

  it("keeps fields this version does not know, for --json", () => {
    const parsed = parseLifecycleLine(line({ ...shutdown("2026-01-01T00:00:00.000Z"), future_field: 42 }))
    expect(parsed).toMatchObject({ _tag: "Record", record: { future_field: 42 } })
  })

  it("checks the writer's pid and start time on shutdown, watchdog and loop-stall records, and keeps the order --json shows", () => {
    const watchdog = {
      event: "watchdog",
      deadline_fired: "hard",
      deadline_ms: 40_000,
      phase: "drain",
      armed_at: "2026-01-01T00:00:00.000Z",
      at: "2026-01-01T00:00:40.000Z",
      exit_code: 70,
      start_time: "77",
      pid: 12,
      signal: "SIGTERM"
    }
    const loopStall = {
      event: "loop_stall",
      at: "2026-01-01T00:00:40.000Z",
      stall_timeout_ms: 30_000,
      stalled_ms: 31_000,
      exit_code: 75,
      report: null,
      start_time: "77",
      pid: 12
    }
    const records = [shutdown("2026-01-01T00:00:00.000Z", { pid: 12, start_time: "77" }), watchdog, loopStall]
    for (const record of records) {
      const parsed = parseLifecycleLine(line(record))
      expect(parsed).toMatchObject({ _tag: "Record", record: { pid: 12, start_time: "77" } })
      expect(parseLifecycleLine(line({ ...record, pid: "twelve" }))._tag).toBe("Bad")
      expect(parseLifecycleLine(line({ ...record, start_time: 77 }))._tag).toBe("Bad")
    }
    const keys = (record: object) => {
      const parsed = parseLifecycleLine(line(record))
      return parsed._tag === "Record" ? Object.keys(parsed.record) : []
    }
    expect(keys(watchdog)).toEqual(["event", "deadline_fired", "deadline_ms", "phase", "armed_at", "at", "exit_code", "pid", "start_time", "signal"])
    expect(keys(loopStall)).toEqual(["event", "at", "exit_code", "pid", "start_time", "stall_timeout_ms", "stalled_ms", "report"])
  })

  it("a shutdown record without phases (an older writer) gets an empty list", () => {
    const { phases: _, exit_reason: __, ...bare } = shutdown("2026-01-01T00:00:00.000Z")
    expect(parseLifecycleLine(line(bare))).toMatchObject({ _tag: "Record", record: { phases: [] } })
  })
})

describe("readLifecycleLog", () => {
  it("returns records newest first, skipping and counting bad lines, never crashing", () => {
    fixture()
    const reading = readLifecycleLog(logFile())
    expect(reading.records.map((r) => `${r.event}@${r.at}`)).toEqual([
      "start@2026-01-01T06:00:00.000Z",
      "loop_stall@2026-01-01T05:00:00.000Z",
      "start@2026-01-01T04:00:00.000Z",
      "watchdog@2026-01-01T03:00:35.000Z",
      "start@2026-01-01T02:00:00.000Z",
      "shutdown@2026-01-01T01:00:00.000Z",
      "start@2026-01-01T00:00:00.000Z"
    ])
    expect(reading.skipped).toBe(4) // torn last line, short shutdown record, JSON array, prose
    expect(reading.otherEvents).toBe(1)
    expect(reading.problems).toHaveLength(3)
    expect(reading.missing).toBe(false)
    expect(reading.truncated).toBe(false)
    expect(reading.error).toBeUndefined()
  })

  it("stops at the limit and can filter by event", () => {
    fixture()
    expect(readLifecycleLog(logFile(), { limit: 2 }).records.map((r) => r.event)).toEqual(["start", "loop_stall"])
    expect(readLifecycleLog(logFile(), { events: ["shutdown"] }).records.map((r) => r.at)).toEqual(["2026-01-01T01:00:00.000Z"])
  })

  it("a missing file is reported as missing, not as an error", () => {
    const reading = readLifecycleLog(path.join(dir, "absent.jsonl"))
    expect(reading).toMatchObject({ missing: true, records: [], skipped: 0 })
    expect(reading.error).toBeUndefined()
  })

  it("a directory or a symbolic link at the log's name is an error in the result", () => {
    fs.mkdirSync(logFile())
    expect(readLifecycleLog(logFile()).error).toContain("not a regular file")
    fs.rmdirSync(logFile())
    fs.writeFileSync(path.join(dir, "elsewhere"), line(shutdown("2026-01-01T00:00:00.000Z")) + "\n")
    fs.symlinkSync(path.join(dir, "elsewhere"), logFile())
    const reading = readLifecycleLog(logFile())
    expect(reading.error).toContain("cannot open")
    expect(reading.records).toEqual([])
  })

  it("reads only the end of a large file to find the last few records", () => {
    const record = line(shutdown("2026-01-01T00:00:00.000Z"))
    const count = Math.ceil((5 * 1024 * 1024) / (record.length + 1))
    fs.writeFileSync(logFile(), (record + "\n").repeat(count))
    expect(fs.statSync(logFile()).size).toBeGreaterThan(5 * 1024 * 1024)
    // A scan limit far below the file size: the five newest records are all in its last chunks.
    const reading = readLifecycleLog(logFile(), { limit: 5, maxScanBytes: 128 * 1024 })
    expect(reading.records).toHaveLength(5)
    expect(reading.truncated).toBe(false)
    const everything = readLifecycleLog(logFile(), { maxScanBytes: 128 * 1024 })
    expect(everything.truncated).toBe(true)
    expect(everything.records.length).toBeLessThan(count)
  })

  it("an over-long line is counted as bad without being buffered, and the lines around it still read", () => {
    writeLines([
      line(start("2026-01-01T00:00:00.000Z", 1, { verdict: "first_start_or_unknown" })),
      "x".repeat(10_000),
      line(start("2026-01-01T01:00:00.000Z", 2, { verdict: "first_start_or_unknown" }))
    ])
    const reading = readLifecycleLog(logFile(), { chunkBytes: 512, maxLineBytes: 2048 })
    expect(reading.records.map((r) => r.event === "start" ? r.pid : 0)).toEqual([2, 1])
    expect(reading.skipped).toBe(1)
    expect(reading.problems[0]).toContain("too long")
  })

  const lineArb = FastCheck.oneof(
    FastCheck.constantFrom(
      line(shutdown("2026-01-01T00:00:00.000Z", { exit_reason: "planned stop (SIGTERM; marker names self, action stop) ✓ é 日本" })),
      line(start("2026-01-01T00:00:00.000Z", 7, { verdict: "first_start_or_unknown" })),
      line({ event: "other" }),
      "",
      "{ torn"
    ),
    FastCheck.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replace(/\n/g, " "))
  )

  it.prop(
    "reading backwards in chunks of any size gives the same as reading the file forwards",
    [FastCheck.array(lineArb, { maxLength: 30 }), FastCheck.integer({ min: 1, max: 300 }), FastCheck.boolean()],
    ([lines, chunkBytes, trailingNewline]) => {
      writeLines(lines, trailingNewline)
      const text = fs.readFileSync(logFile(), "utf8")
      const expected = text.split("\n").map(parseLifecycleLine).filter((v) => v._tag === "Record").map((v) => v.record).reverse()
      const bad = text.split("\n").map(parseLifecycleLine).filter((v) => v._tag === "Bad").length
      const reading = readLifecycleLog(logFile(), { chunkBytes })
      expect(reading.records).toEqual(expected)
      expect(reading.skipped).toBe(bad)
    },
    { fastCheck: { numRuns: 150 } }
  )
})

describe("rendering", () => {
  const now = Date.parse("2026-01-01T07:00:00.000Z")
  const render = (record: unknown) => {
    const parsed = parseLifecycleLine(line(record))
    if (parsed._tag !== "Record") throw new Error(`fixture did not decode: ${JSON.stringify(parsed)}`)
    return renderRecord(parsed.record as ReportedRecord, now)
  }

  it("a shutdown tells when, what signalled, why, the exit code, every phase and the slowest", () => {
    const text = render(shutdown("2026-01-01T01:00:00.000Z"))
    expect(text).toContain("2026-01-01T01:00:00.000Z (6h ago)  SHUTDOWN planned by SIGTERM, exit 0 (planned stop, not restarted)")
    expect(text).toContain("why: a stopper announced it: a fresh planned-stop marker named this process (planned-stop marker: names self, action stop)")
    expect(text).toContain("took 2.345s; turns drained 3, interrupted 0; no deadline fired")
    const phases = text.split("\n").filter((l) => /^\s+\+\S+ {2}\w/.test(l))
    expect(phases).toHaveLength(8)
    expect(phases.filter((l) => l.includes("<- slowest"))).toEqual([expect.stringContaining("drain")])
    expect(text).toMatch(/disconnect_adapters\s+200ms\s+TIMEOUT/)
    expect(text).toMatch(/close_session_db\s+30ms\s+FAILED \(Error: disk gone\)/)
  })

  it.each([
    [{ classification: "unplanned", exit_code: 1, exit_reason: "unplanned stop (SIGTERM; marker absent)" }, "SIGTERM arrived with no valid planned-stop marker (planned-stop marker: absent)"],
    [{ classification: "planned", signal: "SIGINT", exit_reason: "planned stop (SIGINT; marker absent)" }, "Ctrl+C (SIGINT) is always a planned stop"],
    [{ classification: "restart", signal: "SIGUSR1", exit_code: 75 }, "SIGUSR1 asks for a restart"],
    [{ classification: "startup_failed", signal: null, exit_code: 69, exit_reason: "start-up failed: no adapter could connect" }, "start-up failed: no adapter could connect"]
  ])("explains %j", (patch, why) => {
    expect(render(shutdown("2026-01-01T01:00:00.000Z", patch))).toContain(`why: ${why}`)
  })

  it("names the deadline that fired", () => {
    expect(render(shutdown("2026-01-01T01:00:00.000Z", { deadline_fired: "drain", turns_interrupted: 2 })))
      .toContain("turns drained 3, interrupted 2; the drain deadline fired")
    expect(render(shutdown("2026-01-01T01:00:00.000Z", { deadline_fired: "forced" }))).toContain("a second signal forced the shutdown")
  })

  it("watchdog, loop-stall and start records each tell their part", () => {
    fixture()
    const text = renderReport(readLifecycleLog(logFile()), { file: logFile(), nowMs: now })
    expect(text).toContain("7 most recent lifecycle record(s)")
    expect(text).toContain("WATCHDOG hard shutdown deadline of 35.0s passed in phase disconnect_adapters, exit 70")
    expect(text).toContain("LOOP STALL event loop unresponsive for 1min 0s (limit 1min 0s), exit 75 (restart requested, restarted at once)")
    expect(text).toContain("diagnostic report (main thread's view): /h/logs/loop-stall-20260101T050000.000Z-300.report.json")
    expect(text).toContain("!! previous life (pid 300) died without shutting down, last state running at 2026-01-01T04:59:00.000Z: the event-loop watchdog ended it")
    expect(text).toContain("previous life (pid 100) shut down cleanly after a planned stop")
    expect(text).toContain("4 unreadable line(s) skipped, e.g. ")
  })

  it("says so when there is nothing to report", () => {
    expect(renderReport(readLifecycleLog(logFile()), { file: logFile(), nowMs: now }))
      .toContain("no shutdown reports yet: " + logFile() + " does not exist")
    writeLines(["garbage"])
    const text = renderReport(readLifecycleLog(logFile()), { file: logFile(), nowMs: now })
    expect(text).toContain(`no shutdown reports in ${logFile()}`)
    expect(text).toContain("1 unreadable line(s) skipped")
  })
})
