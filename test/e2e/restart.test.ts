// Restart without a supervisor (CONTRACT 3.4): the gateway starts its successor in the same
// terminal, stays behind as a thin parent, and a later stop ends both with the successor's code.
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import { FakeTelegram } from "./fakes/FakeTelegram.js"
import { assertBuilt, Sandbox, startTimeOf, telegramConfig, telegramEnv, waitFor, writeMarker } from "./harness.js"

beforeAll(assertBuilt)

const killQuietly = (pid: number | undefined) => {
  if (pid === undefined) return
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

describe.concurrent("unsupervised restart", () => {
  it("SIGUSR1 starts a successor under the same parent; `stop` then ends both with 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const successors: Array<number> = []
    ctx.onTestFinished(() => successors.forEach(killQuietly))
    try {
      gw.signal("SIGUSR1")
      const first = await waitFor("a successor running", () => {
        const state = home.readState()
        return state?.gateway_state === "running" && state.pid !== gw.pid ? (state.pid as number) : undefined
      }, { timeoutMs: 40_000, context: () => gw.describe() })
      successors.push(first)
      expect(gw.alive, "the first process stays as the successor's parent").toBe(true)
      expect(home.readState()?.supervisor?.kind).toBe("hermes-restart-parent")

      // The successor's own restart exits 75 to the parent, which starts the next one: depth stays 1.
      process.kill(first, "SIGUSR1")
      const second = await waitFor("a second successor", () => {
        const state = home.readState()
        return state?.gateway_state === "running" && state.pid !== first && state.pid !== gw.pid ? (state.pid as number) : undefined
      }, { timeoutMs: 40_000, context: () => gw.describe() })
      successors.push(second)

      const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
      expect(stop.code, stop.stderr).toBe(0)
      expect(stop.stdout).toContain(`stopping gateway (pid ${second})`)
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
      expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", pid: second })
      expect(gw.stderr).toContain("starting the successor as a child of this process")
    } finally {
      successors.forEach(killQuietly)
    }
  })

  it("`hermes gateway restart` drains the gateway and reports its successor; `stop` ends it with 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    let successor: number | undefined
    try {
      const restart = await sb.cli(["gateway", "restart", "--home", home.dir])
      expect(restart.code, restart.stderr).toBe(0)
      successor = home.readState()?.pid as number
      expect(successor).not.toBe(gw.pid)
      expect(restart.stdout).toContain(`gateway restarted (pid ${gw.pid} → ${successor})`)
      const previous = home.lifecycle().filter((r) => r.event === "shutdown").pop()
      expect(previous).toMatchObject({ classification: "restart", exit_code: 75 })
      const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
      expect(stop.code, stop.stderr).toBe(0)
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    } finally {
      killQuietly(successor)
    }
  })

  it("`restart` fails, naming it, when the new gateway exits while starting (after taking the home)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const tg = await FakeTelegram.start(ctx)
    const model = await FakeModel.start(ctx)
    const home = sb.home(telegramConfig({ botApi: tg, model, allowedUsers: [111] }))
    const gw = sb.run(home, telegramEnv(tg.token))
    await gw.waitRunning()
    // The successor holds the home, then its Telegram adapter is told the token is refused: exit 78.
    tg.failNext("getMe", { status: 401, description: "Unauthorized" }, 1000)
    const restart = await sb.cli(["gateway", "restart", "--home", home.dir], telegramEnv(tg.token))
    expect(restart.code, restart.stdout + restart.stderr).not.toBe(0)
    expect(restart.stdout).not.toContain("gateway restarted")
    expect(restart.stderr).toMatch(/the new gateway \(pid \d+\) exited while starting; see .*logs and `hermes gateway report`/)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
  })

  it("a stop hook (`--mark-only`) keeps a fresh restart marker for the same process: systemctl restart still exits 75", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home, { HERMES_SUPERVISOR: "test" })
    await gw.waitRunning()
    writeMarker(home, { target_pid: gw.pid, target_start_time: startTimeOf(home), action: "restart" })
    const hook = await sb.cli(["gateway", "stop", "--mark-only", `--pid=${gw.pid}`, "--home", home.dir])
    expect(hook.code, hook.stderr).toBe(0)
    expect(hook.stderr).toContain("restart marker")
    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 75, signal: null })
  })

  it("a plain SIGTERM to the parent is passed on: the successor stops unplanned and the parent exits 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    let successor: number | undefined
    try {
      gw.signal("SIGUSR1")
      successor = await waitFor("a successor running", () => {
        const state = home.readState()
        return state?.gateway_state === "running" && state.pid !== gw.pid ? (state.pid as number) : undefined
      }, { timeoutMs: 40_000, context: () => gw.describe() })
      gw.signal("SIGTERM")
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
      expect(home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1 })
    } finally {
      killQuietly(successor)
    }
  })
})
