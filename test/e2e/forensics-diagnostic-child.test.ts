// The detached shutdown diagnostic outlives the process that started it, never delays it, and
// degrades to notes when its tools are missing.
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnShutdownDiagnostic } from "../../src/forensics/DiagnosticChild.js"

const fixture = fileURLToPath(new URL("./fixtures/forensics-diagnostic-child.ts", import.meta.url))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const waitForText = async (file: string, text: string, timeoutMs = 15_000): Promise<string> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const content = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
    if (content.includes(text)) return content
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)} in ${file}; it holds:\n${content}`)
    await sleep(50)
  }
}

/** Runs the fixture and resolves with its exit code, stdout and how long it lived. */
const runFixture = async (log: string, env: NodeJS.ProcessEnv = process.env) => {
  const started = Date.now()
  const child = spawn(process.execPath, ["--import", "tsx", fixture, log], { stdio: ["ignore", "pipe", "pipe"], env })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk) => (stdout += String(chunk)))
  child.stderr.on("data", (chunk) => (stderr += String(chunk)))
  try {
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    return { code, stdout, stderr, pid: child.pid!, tookMs: Date.now() - started }
  } finally {
    child.kill("SIGKILL")
  }
}

describe("shutdown diagnostic child", () => {
  it("keeps writing ps, pstree and dmesg output after the process that spawned it has exited", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    const log = path.join(dir, "logs", "shutdown-diag.log")
    try {
      const run = await runFixture(log)
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout)).toMatchObject({ _tag: "Spawned" })
      const content = await waitForText(log, `=== end of shutdown diagnostic pid=${run.pid}`)
      expect(content).toMatch(new RegExp(`=== shutdown diagnostic at=\\S+ pid=${run.pid} signal=SIGTERM classification=unplanned`))
      expect(content).toContain("--- ps (all processes, forest)")
      expect(content).toMatch(/PID\s+PPID\s+STAT/)
      expect(content).toContain(`--- pstree -aps ${run.pid}`)
      expect(content).toContain("--- dmesg | tail -n 50")
      expect(fs.statSync(log).mode & 0o777).toBe(0o600)
      expect(fs.statSync(path.dirname(log)).mode & 0o777).toBe(0o700)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("outlives its spawner: a slow ps finishes after the spawner has exited, and the spawner never waited", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    const log = path.join(dir, "shutdown-diag.log")
    const bin = path.join(dir, "bin")
    fs.mkdirSync(bin)
    fs.writeFileSync(path.join(bin, "ps"), "#!/bin/sh\nsleep 1\necho FAKE PS OUTPUT\n", { mode: 0o755 })
    try {
      const run = await runFixture(log, { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` })
      expect(run.code, run.stderr).toBe(0)
      expect(fs.readFileSync(log, "utf8")).not.toContain("FAKE PS OUTPUT")
      const content = await waitForText(log, `=== end of shutdown diagnostic pid=${run.pid}`)
      expect(content).toContain("FAKE PS OUTPUT")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("is cut after 5 s when a tool hangs", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    const log = path.join(dir, "shutdown-diag.log")
    const bin = path.join(dir, "bin")
    fs.mkdirSync(bin)
    fs.writeFileSync(path.join(bin, "ps"), "#!/bin/sh\necho HANGING PS\nexec sleep 60\n", { mode: 0o755 })
    try {
      const started = Date.now()
      const run = await runFixture(log, { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` })
      expect(run.code, run.stderr).toBe(0)
      const content = await waitForText(log, "(diagnostic cut after 5s)", 12_000)
      expect(content).toContain("HANGING PS")
      expect(Date.now() - started).toBeLessThan(10_000)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("degrades to notes when timeout, ps, pstree and dmesg are missing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    const log = path.join(dir, "shutdown-diag.log")
    const emptyBin = path.join(dir, "bin")
    fs.mkdirSync(emptyBin)
    try {
      const run = await runFixture(log, { ...process.env, PATH: emptyBin })
      expect(run.code, run.stderr).toBe(0)
      const content = await waitForText(log, `=== end of shutdown diagnostic pid=${run.pid}`)
      expect(content).toContain("(ps not available)")
      expect(content).toContain("(pstree not available)")
      expect(content).toContain("(dmesg not available)")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("returns at once, and never throws when the log cannot be written or the shell is missing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    try {
      const file = path.join(dir, "file")
      fs.writeFileSync(file, "")
      const skipped = spawnShutdownDiagnostic(path.join(file, "logs", "diag.log"), { pid: process.pid, signal: "SIGTERM" })
      expect(skipped).toMatchObject({ _tag: "Skipped", reason: expect.stringContaining("shutdown diagnostic not started") })

      const log = path.join(dir, "diag.log")
      const started = Date.now()
      const noShell = spawnShutdownDiagnostic(log, { pid: process.pid, signal: "SIGINT" }, { shell: path.join(dir, "no-such-shell") })
      expect(Date.now() - started).toBeLessThan(1000)
      expect(noShell._tag).toBe("Spawned")
      const content = await waitForText(log, "diagnostic child could not start")
      expect(content).toContain(`pid=${process.pid} signal=SIGINT`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a symbolic link planted at the log's name is not written through", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    try {
      const target = path.join(dir, "victim")
      fs.writeFileSync(target, "untouched\n")
      const log = path.join(dir, "shutdown-diag.log")
      fs.symlinkSync(target, log)
      expect(spawnShutdownDiagnostic(log, { pid: process.pid, signal: "SIGTERM" })._tag).toBe("Skipped")
      expect(fs.readFileSync(target, "utf8")).toBe("untouched\n")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("moves a log past its size limit aside before appending", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-diag-"))
    try {
      const log = path.join(dir, "shutdown-diag.log")
      fs.writeFileSync(log, "x".repeat(2048))
      const result = spawnShutdownDiagnostic(log, { pid: process.pid, signal: "SIGTERM" }, { rotateBytes: 1024 })
      expect(result._tag).toBe("Spawned")
      expect(fs.readFileSync(`${log}.1`, "utf8")).toBe("x".repeat(2048))
      await waitForText(log, "=== end of shutdown diagnostic")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
