// SIGUSR2's diagnostic report: a Node report and a summary under logs/, secrets redacted, private
// files, and an error description instead of a throw when logs/ is unusable.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  describeDiagnosticReport,
  diagnosticReport,
  redactReport,
  writeDiagnosticReport
} from "../../../src/forensics/DiagnosticReport.js"

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diagnostic-"))
})
afterEach(() => {
  delete process.env.HERMES_TEST_API_KEY
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("writeDiagnosticReport", () => {
  it("writes a Node report and a summary with active turns, phase, pid, uptime and memory", () => {
    const logsDir = path.join(dir, "logs")
    const now = new Date("2026-01-02T03:04:05.678Z")
    const result = writeDiagnosticReport({ logsDir, activeTurns: 3, phase: "running", extra: { adapters: ["http"] }, now })
    expect(result.errors).toEqual([])
    expect(result.report).toBe(path.join(logsDir, `diagnostic-20260102T030405.678Z-${process.pid}.report.json`))
    expect(result.summary).toBe(path.join(logsDir, `diagnostic-20260102T030405.678Z-${process.pid}.summary.json`))
    const report = JSON.parse(fs.readFileSync(result.report!, "utf8"))
    expect(report.header.processId).toBe(process.pid)
    expect(report.javascriptStack).toBeDefined()
    const summary = JSON.parse(fs.readFileSync(result.summary!, "utf8"))
    expect(summary).toMatchObject({
      event: "diagnostic",
      at: now.toISOString(),
      pid: process.pid,
      phase: "running",
      active_turns: 3,
      report: result.report,
      extra: { adapters: ["http"] }
    })
    expect(summary.memory.rss).toBeGreaterThan(0)
    expect(summary.uptime_s).toBeGreaterThan(0)
    for (const file of [result.report!, result.summary!]) expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(describeDiagnosticReport(result)).toBe(`diagnostic report=${result.report} summary=${result.summary}`)
  })

  it("redacts secret-looking environment variables from the report", () => {
    process.env.HERMES_TEST_API_KEY = "s3cret-value-123"
    const result = writeDiagnosticReport({ logsDir: dir, activeTurns: 0, phase: "running" })
    const text = fs.readFileSync(result.report!, "utf8")
    expect(text).not.toContain("s3cret-value-123")
    expect(JSON.parse(text).environmentVariables.HERMES_TEST_API_KEY).toBe("[redacted]")
    expect(redactReport({ environmentVariables: { PATH: "/bin", OPENAI_API_KEY: "k", GITHUB_TOKEN: "t" } })).toEqual({
      environmentVariables: { PATH: "/bin", OPENAI_API_KEY: "[redacted]", GITHUB_TOKEN: "[redacted]" }
    })
  })

  it("two requests in the same millisecond both get their files", () => {
    const now = new Date("2026-01-02T03:04:05.678Z")
    const first = writeDiagnosticReport({ logsDir: dir, activeTurns: 0, phase: "running", now })
    const second = writeDiagnosticReport({ logsDir: dir, activeTurns: 1, phase: "drain", now })
    expect(second.errors).toEqual([])
    expect(second.report).not.toBe(first.report)
    expect(fs.existsSync(second.summary!)).toBe(true)
  })

  it("an unusable logs directory gives error descriptions, never a throw", () => {
    const notADir = path.join(dir, "file")
    fs.writeFileSync(notADir, "")
    const result = writeDiagnosticReport({ logsDir: notADir, activeTurns: 0, phase: "running" })
    expect(result.report).toBeNull()
    expect(result.summary).toBeNull()
    expect(result.errors.join("\n")).toContain(`${notADir} is a regular file, not a directory`)
    expect(describeDiagnosticReport(result)).toMatch(/^diagnostic report=- summary=- errors="/)
    expect(writeDiagnosticReport({ logsDir: dir, activeTurns: 0, phase: "x", now: new Date(Number.NaN) }).errors[0])
      .toContain("diagnostic report failed")
  })

  it.effect("is available as an Effect for the SIGUSR2 handler", () =>
    Effect.gen(function*() {
      const result = yield* diagnosticReport({ logsDir: dir, activeTurns: 2, phase: "drain" })
      expect(result.errors).toEqual([])
      expect(JSON.parse(fs.readFileSync(result.summary!, "utf8")).phase).toBe("drain")
    }))
})
