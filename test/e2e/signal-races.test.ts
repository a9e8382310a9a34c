// End-to-end: a second signal at any moment of a shutdown, a signal storm after `stop`, and a
// signal that lands while the process is still loading (CONTRACT 3.2): the exit code follows the
// first decision up to the last byte of the process, and never takes the 128+n path of a command
// that does not handle signals.
import * as fs from "node:fs"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, Gateway, type Home, Sandbox, startTimeOf, waitFor, writeMarker } from "./harness.js"

beforeAll(assertBuilt)

/** Sends `signal` every `everyMs` until the process has exited; returns how many were delivered. */
const storm = (gw: Gateway, signal: NodeJS.Signals, everyMs: number): Promise<number> =>
  new Promise((resolve) => {
    let sent = 0
    const timer = setInterval(() => {
      if (!gw.alive) {
        clearInterval(timer)
        resolve(sent)
        return
      }
      if (gw.child.kill(signal)) sent++
    }, everyMs)
  })

const plannedStop = (gw: Gateway, home: Home) => {
  writeMarker(home, { target_pid: gw.pid, target_start_time: startTimeOf(home), action: "stop" })
  gw.signal("SIGTERM")
}

/** The moments of a shutdown at which the second signal is sent, by the log line that marks them. */
const moments = [
  { name: "right after the shutdown context line", line: "shutdown context" },
  { name: "after the drain", line: "shutdown phase=drain" },
  { name: "after the final state", line: "gateway exiting code=" }
] as const

describe.concurrent("a second signal never changes the exit code", () => {
  for (const second of ["SIGTERM", "SIGHUP"] as const) {
    for (const moment of moments) {
      it(`planned stop, then ${second} ${moment.name}: exit 0, stopped`, async (ctx) => {
        const { expect } = ctx
        const sb = new Sandbox(ctx)
        const home = sb.home()
        const gw = sb.run(home)
        await gw.waitRunning()
        plannedStop(gw, home)
        await gw.waitLog(moment.line)
        gw.signal(second)
        expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
        expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
        expect(gw.stderr).not.toContain("interrupted by")
      })
    }
  }

  for (const moment of moments) {
    it(`unplanned SIGTERM, then SIGTERM ${moment.name}: exit 1, run-intent kept`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const home = sb.home()
      const gw = sb.run(home)
      await gw.waitRunning()
      gw.signal("SIGTERM")
      await gw.waitLog(moment.line)
      gw.signal("SIGTERM")
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
      expect(home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1 })
    })
  }

  it("supervised restart (SIGUSR1), then SIGTERM after the final state: exit 75", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home, { HERMES_SUPERVISOR: "test" })
    await gw.waitRunning()
    gw.signal("SIGUSR1")
    await gw.waitLog("gateway exiting code=75")
    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 75, signal: null })
    expect(home.readState()).toMatchObject({ gateway_state: "stopped", restart_requested: true, exit_code: 75 })
  })

  it("a SIGTERM every 20 ms from the planned stop on: exit 0 with a shutdown record", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    plannedStop(gw, home)
    await gw.waitLog("shutdown context")
    const sent = await storm(gw, "SIGTERM", 20)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    expect(sent, "the storm reached the process").toBeGreaterThan(0)
    expect(home.lifecycle().filter((r) => r.event === "shutdown").at(-1)).toMatchObject({ classification: "planned", exit_code: 0 })
  })

  it("`hermes gateway stop` with a SIGTERM every 20 ms after it: both exit 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const stop = sb.cli(["gateway", "stop", "--home", home.dir])
    await gw.waitLog("shutdown context")
    const sent = await storm(gw, "SIGTERM", 20)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    const result = await stop
    expect(result.code, result.stderr).toBe(0)
    expect(sent).toBeGreaterThan(0)
    expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
  })
})

describe.concurrent("a signal while the gateway is still loading or starting", () => {
  /**
   * Spawns `gateway run` and returns as soon as its program runs (it has created the home's logs
   * folder), before it has claimed signals or taken the home. (/proc's SigCgt is no such fact:
   * Node itself catches SIGTERM before any of our code runs.)
   */
  const spawnLoading = async (sb: Sandbox, home: Home) => {
    const gw = sb.run(home)
    await waitFor("the gateway's program running", () => fs.existsSync(`${home.dir}/logs`) || !gw.alive, { intervalMs: 1 })
    return gw
  }

  it("an unannounced SIGTERM before the home is taken is an unplanned stop: exit 1, never 143", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = await spawnLoading(sb, home)
    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({ exit_code: 1, shutdown: { classification: "unplanned" } })
  })

  it("two SIGTERMs at once: exit 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = await spawnLoading(sb, home)
    gw.signal("SIGTERM")
    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
  })

  it("SIGHUP during start-up (after the lock): exit 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await waitFor("the pid file", () => home.readPidFile()?.pid === gw.pid, { context: () => gw.describe() })
    gw.signal("SIGHUP")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({ exit_code: 1, desired_state: "running" })
  })
})
