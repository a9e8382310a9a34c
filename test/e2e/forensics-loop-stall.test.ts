// The event-loop watchdog: a loop that stops answering is recorded, leaves a Node diagnostic report
// with the blocking stack, and exits 75; a healthy loop is left alone; once shutdown has begun
// (arm), only the hard deadline counts.
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const fixture = fileURLToPath(new URL("./fixtures/forensics-loop-stall.ts", import.meta.url))

const runFixture = async (mode: "stall" | "healthy" | "armed") => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-loopstall-"))
  const log = path.join(dir, "logs", "lifecycle.jsonl")
  const child = spawn(process.execPath, ["--import", "tsx", fixture, log, mode], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr += String(chunk)))
  const started = Date.now()
  try {
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    const records = fs.existsSync(log)
      ? fs.readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
      : []
    const files = fs.existsSync(path.dirname(log)) ? fs.readdirSync(path.dirname(log)) : []
    return { code, stderr, records, files, dir, pid: child.pid, tookMs: Date.now() - started }
  } finally {
    child.kill("SIGKILL")
  }
}

describe("event-loop watchdog", () => {
  it("a busy loop past the stall timeout exits 75 with a record and a diagnostic report", async () => {
    const run = await runFixture("stall")
    try {
      expect(run.code, run.stderr).toBe(75)
      expect(run.stderr).toContain("blocking the event loop")
      expect(run.stderr).toMatch(/event loop stalled: no heartbeat for \d+ms \(limit 1000ms\)/)
      expect(run.tookMs).toBeLessThan(20_000)
      expect(run.records).toHaveLength(1)
      const record = run.records[0]!
      expect(record).toMatchObject({
        event: "loop_stall",
        exit_code: 75,
        pid: run.pid,
        start_time: "fixture",
        stall_timeout_ms: 1000,
        report_view: "main"
      })
      expect(record.stalled_ms as number).toBeGreaterThanOrEqual(1000)
      const report = record.report as string
      expect(path.dirname(report)).toBe(path.join(run.dir, "logs"))
      expect(run.files).toContain(path.basename(report))
      expect(fs.statSync(report).mode & 0o777).toBe(0o600)
      const content = JSON.parse(fs.readFileSync(report, "utf8"))
      expect(content.header.processId).toBe(run.pid)
      // The main thread's view: the stack shows what held the loop.
      expect(content.javascriptStack.stack.join("\n")).toContain("busyLoop")
    } finally {
      fs.rmSync(run.dir, { recursive: true, force: true })
    }
  })

  it("a healthy loop is never taken for a stalled one", async () => {
    const run = await runFixture("healthy")
    try {
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain("healthy run over")
      expect(run.stderr).not.toContain("stalled")
      expect(run.records).toEqual([])
    } finally {
      fs.rmSync(run.dir, { recursive: true, force: true })
    }
  })

  it("after arm the loop monitor is off and the hard deadline ends a blocked teardown with 70", async () => {
    const run = await runFixture("armed")
    try {
      expect(run.code, run.stderr).toBe(70)
      expect(run.stderr).not.toContain("event loop stalled")
      expect(run.records.map((r) => r.event)).toEqual(["watchdog"])
      expect(run.records[0]).toMatchObject({ deadline_fired: "hard", phase: "drain", exit_code: 70 })
    } finally {
      fs.rmSync(run.dir, { recursive: true, force: true })
    }
  })
})
