// A home last used by the reference Python gateway (same file names, CONTRACT 1) is understood:
// its `stopped` state keeps `boot` idle, and its planned-stop marker (integer start time, no
// action) makes a SIGTERM to our gateway a planned stop.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, hermesJs, Sandbox, startTimeOf, waitFor, waitForExit } from "./harness.js"

beforeAll(assertBuilt)

/** Python's `datetime.now(timezone.utc).isoformat()`: microseconds and a +00:00 offset. */
const pythonNow = (): string => new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00")

describe.concurrent("a home written by the Python gateway", () => {
  it("its stopped state (numeric start_time, no desired_state) keeps boot idle", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    fs.writeFileSync(home.state, JSON.stringify({
      pid: 4321, kind: "hermes-gateway", argv: ["/usr/local/bin/hermes", "gateway", "run"], start_time: 40750,
      gateway_state: "stopped", exit_reason: "normal_stop", restart_requested: false, active_agents: 0,
      platforms: { telegram: { state: "disconnected", error_code: null, error_message: null } },
      session_store: { status: "ok" }, updated_at: pythonNow()
    }), { mode: 0o600 })

    const boot = spawn(process.execPath, [hermesJs, "gateway", "boot", "--home", home.dir], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    boot.stderr!.on("data", (chunk) => (stderr += String(chunk)))
    ctx.onTestFinished(() => void boot.kill("SIGKILL"))
    await waitFor("boot says it stays idle", () => stderr.includes("idle until stopped"), { timeoutMs: 10_000, context: () => stderr })
    expect(stderr).toContain("no desired_state; gateway_state was stopped")
    expect(boot.exitCode, "boot stays up while idle").toBeNull()
    expect(fs.existsSync(home.pidFile), "no gateway was started").toBe(false)
    boot.kill("SIGTERM")
    expect((await waitForExit(boot)).code).toBe(0)
  })

  it("its planned-stop marker naming the live gateway makes the SIGTERM planned: exit 0, stopped", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    fs.writeFileSync(home.plannedStop, JSON.stringify({
      target_pid: gw.pid,
      target_start_time: Number(startTimeOf(home)),
      stopper_pid: process.pid,
      written_at: pythonNow()
    }), { mode: 0o600 })

    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "stopped",
      exit_code: 0,
      shutdown: { classification: "planned", signal: "SIGTERM" }
    })
    expect(fs.existsSync(home.plannedStop)).toBe(false) // consumed
  })
})
