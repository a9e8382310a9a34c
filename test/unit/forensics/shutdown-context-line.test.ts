// The `shutdown context` line is short at INFO; every detail goes to DEBUG.
import { describe, expect, it } from "@effect/vitest"
import { type Snapshot, shutdownContextLines } from "../../../src/forensics/Snapshot.js"
import { successorStartLine } from "../../../src/lifecycle/Successor.js"

const snapshot: Snapshot = {
  signal: "SIGTERM",
  pid: 4242,
  start_time: "123456",
  ppid: 1,
  parent_name: "systemd",
  parent_cmdline: "/usr/lib/systemd/systemd --user --deserialize=41 --with-a-long-tail-of-arguments ".repeat(3),
  invocation_id: "0123456789abcdef0123456789abcdef",
  supervisor: "systemd",
  supervisor_evidence: "env:INVOCATION_ID",
  loadavg: "0.10 0.20 0.30",
  tracer_pid: 0,
  marker_present: true,
  marker_names_self: true,
  marker_note: null,
  clean_shutdown_present: false,
  uptime_s: 3600,
  rss_mb: 80,
  took_ms: 1
}

describe("shutdown context lines", () => {
  const lines = shutdownContextLines(snapshot, "planned", "names self (stop)", "35s")

  it("INFO says what arrived, from whom, what it means and the deadline, in under 120 characters", () => {
    expect(lines.info).toBe(
      "shutdown context signal=SIGTERM ppid=1 parent=systemd classification=planned marker=\"names self (stop)\" deadline=35s"
    )
    expect(lines.info.length).toBeLessThan(120)
  })

  it("DEBUG keeps every field of the snapshot", () => {
    for (const key of Object.keys(snapshot)) expect(lines.debug).toContain(`${key}=`)
  })
})

describe("successor start line", () => {
  it("speaks of a terminal only when there is one", () => {
    expect(successorStartLine(true)).toContain("starting the successor in this terminal")
    expect(successorStartLine(false)).toBe("restart requested and no supervisor: starting the successor as a child of this process")
  })
})
