// `hermes gateway boot` keeps the run-intent across container restarts; `doctor` reports problems.
import { spawn } from "node:child_process"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, hermesJs, Sandbox, waitFor, waitForExit } from "./harness.js"

beforeAll(assertBuilt)

describe.concurrent("boot and doctor", () => {
  it("boot runs the gateway again after an unplanned stop, and stays idle after a planned one", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    // first life: an unplanned SIGTERM keeps the run-intent
    const first = sb.run(home)
    await first.waitRunning()
    first.signal("SIGTERM")
    expect((await first.waitExit()).code).toBe(1)

    const boot = spawn(process.execPath, [hermesJs, "gateway", "boot", "--home", home.dir], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    boot.stderr!.on("data", (chunk) => (stderr += String(chunk)))
    ctx.onTestFinished(() => void boot.kill("SIGKILL"))
    await waitFor("boot starts the gateway", () => home.readState()?.gateway_state === "running" && home.readState()?.pid === boot.pid, {
      timeoutMs: 30_000,
      context: () => stderr
    })
    expect(stderr).toContain("desired_state is running")
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect((await waitForExit(boot)).code).toBe(0)

    // after a planned stop, boot does not start the gateway; it idles and exits 0 when stopped
    const idle = spawn(process.execPath, [hermesJs, "gateway", "boot", "--home", home.dir], { stdio: ["ignore", "ignore", "pipe"] })
    let idleErr = ""
    idle.stderr!.on("data", (chunk) => (idleErr += String(chunk)))
    ctx.onTestFinished(() => void idle.kill("SIGKILL"))
    await waitFor("boot says it stays idle", () => idleErr.includes("idle until stopped"), { timeoutMs: 30_000, context: () => idleErr })
    // Staying up is an absence over time: this wait is the thing under test, not a guess at a fact.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(idle.exitCode, "boot stays up while idle").toBeNull()
    expect(home.readState()?.gateway_state).toBe("stopped")
    idle.kill("SIGTERM")
    expect((await waitForExit(idle)).code).toBe(0)
  })

  it("doctor exits 0 on a sound home and 1 naming the problem on a bad config", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const good = await sb.cli(["gateway", "doctor", "--home", sb.home().dir])
    expect(good.code, good.stdout + good.stderr).toBe(0)
    expect(good.stdout).toContain("hard shutdown deadline 35s")
    const bad = await sb.cli(["gateway", "doctor", "--home", sb.home("gateway:\n  drain_timeot: 5s\n").dir])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/FAIL\s+config\s+.*unknown key gateway\.drain_timeot/)
  })
})
