// End-to-end: how a real gateway process classifies a stop (CONTRACT 3.2) and what it leaves
// behind (sections 4 and 5), driven by real signals and the real CLI.
import * as fs from "node:fs"
import { spawn } from "node:child_process"
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import {
  assertBuilt,
  phasesOf,
  Sandbox,
  shutdownOrder,
  startTimeOf,
  waitForExit,
  writeMarker
} from "./harness.js"
import { heldTurn, modelConfig } from "./Turns.js"

beforeAll(assertBuilt)

describe.concurrent("stop classification", () => {
  it("1. `hermes gateway stop` is a planned stop: exit 0, stopped, phases in order", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const pid = gw.pid

    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect(stop.stdout).toContain(`stopping gateway (pid ${pid})`)
    expect(stop.stdout).toContain("gateway stopped")

    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 0, signal: null })

    const state = home.readState()!
    expect(state).toMatchObject({
      gateway_state: "stopped",
      desired_state: "stopped",
      exit_code: 0,
      restart_requested: false,
      active_turns: 0,
      pid
    })
    expect(state.shutdown).toMatchObject({ classification: "planned", signal: "SIGTERM", exit_code: 0, deadline_fired: null })

    // .clean_shutdown stays for the next start; the pid file and the consumed marker are gone.
    const clean = JSON.parse(fs.readFileSync(home.cleanShutdown, "utf8"))
    expect(clean).toMatchObject({ pid, classification: "planned" })
    expect(fs.existsSync(home.pidFile)).toBe(false)
    expect(fs.existsSync(home.plannedStop)).toBe(false)

    // CONTRACT 5: one line per step, in order, with its duration and offset.
    expect(gw.stderr).toMatch(/shutdown context .*signal=SIGTERM.*classification=planned/)
    expect(gw.stderr).toMatch(/shutdown phase=drain took=\d+ at=\+\d+\.\d+/)
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
    expect(gw.stderr.indexOf("shutdown context")).toBeLessThan(gw.stderr.indexOf("shutdown phase=clean_shutdown_marker"))
    expect(gw.stderr).toContain("gateway exiting code=0")

    const report = home.lifecycle().filter((r) => r.event === "shutdown").at(-1)!
    expect(report).toMatchObject({ classification: "planned", signal: "SIGTERM", exit_code: 0 })
    expect(report.phases.map((p: { name: string }) => p.name)).toEqual(shutdownOrder.slice(0, -1))

    // Stopped on purpose: not running (3), not "dead" (1).
    const status = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(status.code, status.stdout + status.stderr).toBe(3)

    // Not running any more: stop is a no-op that says so.
    const again = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/not running/)
  })

  it("2. a plain SIGTERM is unplanned: exit 1, run-intent kept, status says dead (1)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()

    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })

    const state = home.readState()!
    expect(state).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1, restart_requested: false })
    expect(state.shutdown).toMatchObject({ classification: "unplanned", signal: "SIGTERM", exit_code: 1 })
    expect(fs.existsSync(home.cleanShutdown)).toBe(true)
    expect(fs.existsSync(home.pidFile)).toBe(false)
    expect(gw.stderr).toMatch(/shutdown context .*signal=SIGTERM.*classification=unplanned/)
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
    expect(gw.stderr).toContain("gateway exiting code=1")
    expect(gw.stderr).toMatch(/hermes: stopped by SIGTERM that no stopper announced/)

    const status = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(status.code, status.stdout + status.stderr).toBe(1)
    expect(status.stdout).toMatch(/not running, but its state file says running/)
    const json = await sb.cli(["gateway", "status", "--json", "--home", home.dir])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "dead", pid: null })
  })

  it("3. SIGINT (Ctrl+C) is a planned stop: exit 0, stopped", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()

    gw.signal("SIGINT")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 0, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "stopped",
      exit_code: 0,
      shutdown: { classification: "planned", signal: "SIGINT" }
    })
    expect(fs.existsSync(home.cleanShutdown)).toBe(true)
    expect(fs.existsSync(home.pidFile)).toBe(false)
    expect(gw.stderr).toMatch(/shutdown context .*signal=SIGINT.*classification=planned/)
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
  })

  it("7. a planned stop stays planned when the supervisor's own SIGTERM follows (exit 0)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    // Never released, and the drain deadline is far: only the forced stop can end this turn.
    model.holdAll()
    const home = sb.home(modelConfig(model, { drain: "10m" }))
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const { reply } = await heldTurn(gw, model, port)

    const stop = sb.cli(["gateway", "stop", "--home", home.dir])
    await gw.waitLog(/shutdown context .*classification=planned/)
    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 0, signal: null })
    expect(gw.stderr).toMatch(/shutdown forced by a second SIGTERM.*first decision: planned/)
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "stopped",
      exit_code: 0,
      shutdown: { classification: "planned", deadline_fired: "forced", turns_interrupted: 1 }
    })
    const stopped = await stop
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    const response = await reply
    expect(response.status).toBe(503)
    expect(response.body.error.code).toBe("interrupted")
  })

  it("13a. SIGUSR1 under a supervisor requests a restart: exit 75, restart_requested", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home, { HERMES_SUPERVISOR: "test" })
    await gw.waitRunning()
    expect(home.readState()!.supervisor).toMatchObject({ kind: "test" })

    gw.signal("SIGUSR1")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 75, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "running",
      restart_requested: true,
      exit_code: 75,
      shutdown: { classification: "restart", signal: "SIGUSR1", exit_code: 75 }
    })
    expect(gw.stderr).toMatch(/shutdown context .*signal=SIGUSR1.*classification=restart/)
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
  })

  it("13b. a restart marker naming this incarnation + SIGTERM: exit 75", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home, { HERMES_SUPERVISOR: "test" })
    await gw.waitRunning()

    writeMarker(home, { target_pid: gw.pid, target_start_time: startTimeOf(home), action: "restart" })
    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 75, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "running",
      restart_requested: true,
      exit_code: 75,
      shutdown: { classification: "restart", signal: "SIGTERM" }
    })
    expect(fs.existsSync(home.plannedStop)).toBe(false) // consumed
    expect(gw.stderr).toMatch(/classification=restart marker=.*names self, action restart/)
  })

  it("14a. `stop --mark-only --pid=` (empty, as systemd passes an empty $MAINPID) is a no-op, exit 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const result = await sb.cli(["gateway", "stop", "--home", home.dir, "--mark-only", "--pid="])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(fs.existsSync(home.plannedStop)).toBe(false)
  })

  it("14b. `stop --mark-only --pid \"\"` and `--pid=<dead pid>` are no-ops, exit 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const empty = await sb.cli(["gateway", "stop", "--home", home.dir, "--mark-only", "--pid", ""])
    expect(empty.code, empty.stdout + empty.stderr).toBe(0)
    expect(empty.stderr).toMatch(/nothing to mark/)

    const short = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
    const deadPid = short.pid!
    await waitForExit(short)
    const dead = await sb.cli(["gateway", "stop", "--home", home.dir, "--mark-only", `--pid=${deadPid}`])
    expect(dead.code, dead.stdout + dead.stderr).toBe(0)
    expect(dead.stderr).toMatch(/not running; nothing to mark/)
    expect(fs.existsSync(home.plannedStop)).toBe(false)
  })

  it("14c. `stop --mark-only --pid=<gateway>` writes the marker; a plain SIGTERM then exits 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const startTime = startTimeOf(home)

    const mark = await sb.cli(["gateway", "stop", "--home", home.dir, "--mark-only", `--pid=${gw.pid}`])
    expect(mark.code, mark.stdout + mark.stderr).toBe(0)
    expect(mark.stdout).toBe("") // a stop hook that did its job is quiet
    expect(gw.alive).toBe(true) // marks only, never signals
    const marker = JSON.parse(fs.readFileSync(home.plannedStop, "utf8"))
    expect(marker).toMatchObject({ target_pid: gw.pid, target_start_time: startTime, action: "stop" })
    expect(Date.now() - Date.parse(marker.written_at)).toBeLessThan(60_000)

    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 0, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "stopped",
      exit_code: 0,
      shutdown: { classification: "planned", signal: "SIGTERM" }
    })
    expect(fs.existsSync(home.plannedStop)).toBe(false)
  })

  it("15a. a fresh marker naming another start time does not make a SIGTERM planned: exit 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const other = String(Number(startTimeOf(home)) - 1)

    writeMarker(home, { target_pid: gw.pid, target_start_time: other, action: "stop" })
    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "running",
      desired_state: "running",
      exit_code: 1,
      shutdown: { classification: "unplanned" }
    })
    expect(gw.stderr).toMatch(/classification=unplanned/)
  })

  it("15b. an expired marker naming this incarnation is treated as absent: exit 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()

    writeMarker(home, {
      target_pid: gw.pid,
      target_start_time: startTimeOf(home),
      action: "stop",
      written_at: new Date(Date.now() - 10 * 60_000).toISOString()
    })
    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1 })
    expect(gw.stderr).toMatch(/classification=unplanned marker=.*expired/)
  })

  it("15c. an unreadable marker is treated as absent: exit 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()

    fs.writeFileSync(home.plannedStop, "{\"target_pid\": ")
    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({ gateway_state: "running", exit_code: 1, shutdown: { classification: "unplanned" } })
  })

  it("17. `status --json`: 0 and running while it runs; 3 when never started", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const fresh = sb.home("")
    const never = await sb.cli(["gateway", "status", "--json", "--home", fresh.dir])
    expect(never.code, never.stdout + never.stderr).toBe(3)
    expect(JSON.parse(never.stdout)).toMatchObject({ status: "not_running", pid: null })

    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const status = await sb.cli(["gateway", "status", "--json", "--home", home.dir])
    expect(status.code, status.stdout + status.stderr).toBe(0)
    const json = JSON.parse(status.stdout)
    expect(json).toMatchObject({ status: "running", pid: gw.pid, state_file: { gateway_state: "running", pid: gw.pid } })
    expect(json.state_file.platforms.http).toMatchObject({ state: "connected", port })

    const text = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`gateway: running (pid ${gw.pid})`)
  })
})
