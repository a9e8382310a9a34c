// The hard-deadline watchdog works from its own thread: with the main event loop blocked it still
// writes its record to logs/lifecycle.jsonl and ends the process with 70 (CONTRACT 3.3).
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const fixture = fileURLToPath(new URL("./fixtures/blocked-teardown.ts", import.meta.url))

describe("hard-deadline watchdog", () => {
  it("exits 70 and leaves a record even when the event loop is blocked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-watchdog-"))
    const log = path.join(dir, "logs", "lifecycle.jsonl")
    const child = spawn(process.execPath, ["--import", "tsx", fixture, log], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    try {
      const started = Date.now()
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
      expect(code, stderr).toBe(70)
      expect(stderr).toContain("blocking the event loop")
      expect(stderr).toContain("hard deadline")
      expect(Date.now() - started).toBeLessThan(20_000)
      const record = JSON.parse(fs.readFileSync(log, "utf8").trim().split("\n").pop()!)
      expect(record).toMatchObject({ event: "watchdog", deadline_fired: "hard", exit_code: 70, phase: "drain", signal: "SIGTERM" })
    } finally {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
