// End-to-end: turns in flight when a stop arrives (CONTRACT 3.2, 3.3, 5): drained, refused,
// interrupted at the deadline, forced by a second signal, and a SIGKILL in the middle of it all.
// Turns are held in flight by a latch (a FakeModel that answers only when the test releases it),
// and known to be in flight from a fact (the model received the request, or the first streamed
// byte arrived), never from a sleep or an agent delay.
import * as fs from "node:fs"
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import {
  assertBuilt,
  chat,
  phasesOf,
  readyz,
  Sandbox,
  shutdownOrder,
  waitFor
} from "./harness.js"
import { heldTurn, modelConfig, startStreamingTurn } from "./Turns.js"

beforeAll(assertBuilt)

describe.concurrent("in-flight turns at shutdown", () => {
  it("4. a turn in flight at SIGTERM completes (200); new requests get 503 + Retry-After; exit 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    model.holdAll()
    const home = sb.home(modelConfig(model, { drain: "50s" }))
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    expect(await readyz(port)).toBe(200)
    const { reply } = await heldTurn(gw, model, port)

    gw.signal("SIGTERM")
    // Readiness turns false when intake stops (step 2); from then on new turns are refused.
    await waitFor("readyz 503", async () => (await readyz(port)) === 503, { context: () => gw.describe() })
    const refused = await chat(port, "too late")
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(refused.body.error.code).toBe("draining")
    // Written by the first finalizer (step 1), which may still be on its way to the disk.
    await waitFor("state file says draining", () => home.readState()?.gateway_state === "draining", { context: () => gw.describe() })
    expect(home.readState()).toMatchObject({ gateway_state: "draining", desired_state: "running" })
    expect(model.requestsFor("too late")).toEqual([])

    model.releaseAll()
    const response = await reply
    expect(response.status, JSON.stringify(response.body)).toBe(200)
    expect(response.body.choices[0].message.content).toBe("answer: hi")

    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "running",
      desired_state: "running",
      exit_code: 1,
      active_turns: 0,
      shutdown: { classification: "unplanned", turns_drained: 1, turns_interrupted: 0, deadline_fired: null }
    })
    expect(gw.stderr).toContain("draining 1 turn(s)")
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
  })

  it("4b. active_turns in the state file follows the turns, running and draining (CONTRACT 4, 5 step 4)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    // Both turns stay in flight until the test releases them, however slow the machine.
    const model = await FakeModel.start(ctx)
    model.holdAll()
    const home = sb.home(modelConfig(model, { drain: "50s" }))
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const first = await startStreamingTurn(port, "one")
    const second = await startStreamingTurn(port, "two")
    const seen: Array<string> = []
    const stateIs = (gatewayState: string, active: number) => () => {
      const state = home.readState()
      seen.push(`${state?.gateway_state}/${state?.active_turns}`)
      return state?.gateway_state === gatewayState && state.active_turns === active
    }
    const context = () => `states seen: ${[...new Set(seen)].join(", ")}\n${gw.describe()}`
    await waitFor("gateway_state running with active_turns 2", stateIs("running", 2), { timeoutMs: 30_000, context })
    const status = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(status.stdout).toContain("active turns: 2")

    gw.signal("SIGTERM")
    await waitFor("gateway_state draining with active_turns 2", stateIs("draining", 2), { timeoutMs: 30_000, context })
    model.releaseAll()
    for (const [turn, text] of [[first, "one"], [second, "two"]] as const) {
      const end = await turn.end
      expect(end, JSON.stringify(end)).toMatchObject({ done: true, text: `answer: ${text}`, error: undefined })
    }
    expect(await gw.waitExit()).toEqual({ code: 1, signal: null })
    expect(home.readState()).toMatchObject({ active_turns: 0, shutdown: { turns_drained: 2 } })
  })

  it("5. drain deadline: the turn is interrupted (503 interrupted), exit 1 while the turn would still run", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    model.holdAll() // never released: only the drain deadline can end this turn
    const home = sb.home(modelConfig(model))
    const gw = sb.run(home, { HERMES_GATEWAY_DRAIN_TIMEOUT: "1s" })
    const port = await gw.waitRunning()
    const { reply } = await heldTurn(gw, model, port)

    gw.signal("SIGTERM")
    const response = await reply
    expect(response.status, JSON.stringify(response.body)).toBe(503)
    expect(response.body.error.code).toBe("interrupted")
    expect(response.headers.get("retry-after")).not.toBeNull()

    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })
    // The held answer was never released: the gateway gave up on it (it hung up on the model).
    await waitFor("the model request abandoned", () => model.requestsFor("hi")[0]?.aborted === true)
    expect(home.readState()).toMatchObject({
      gateway_state: "running",
      desired_state: "running",
      exit_code: 1,
      shutdown: { classification: "unplanned", turns_interrupted: 1, turns_drained: 0, deadline_fired: "drain" }
    })
    expect(gw.stderr).toMatch(/drain ended \(deadline\) with 1 turn\(s\) still running/)
    expect(gw.stderr).toMatch(/interrupted 1 turn\(s\)/)
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
  })

  it("6. a second SIGTERM forces the shutdown; the exit code follows the first classification (1)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    model.holdAll() // never released; the drain deadline (10m) is far: only the second signal ends it
    const home = sb.home(modelConfig(model, { drain: "10m" }))
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const { reply } = await heldTurn(gw, model, port)

    gw.signal("SIGTERM")
    await gw.waitLog("draining 1 turn(s)")
    gw.signal("SIGTERM")
    const exit = await gw.waitExit()
    expect(exit, gw.describe()).toEqual({ code: 1, signal: null })
    expect(gw.stderr).toMatch(/shutdown forced by a second SIGTERM/)
    expect(gw.stderr).toMatch(/first decision: unplanned/)
    expect(home.readState()).toMatchObject({
      gateway_state: "running",
      desired_state: "running",
      exit_code: 1,
      shutdown: { classification: "unplanned", turns_interrupted: 1, deadline_fired: "forced" }
    })
    // The remaining steps still ran, in order.
    expect(phasesOf(gw.stderr)).toEqual(shutdownOrder)
    const response = await reply
    expect(response.status).toBe(503)
    expect(response.body.error.code).toBe("interrupted")
  })

  it("8. SIGKILL during a long drain leaves .clean_shutdown; the next run starts and says it shut down cleanly", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    model.holdAll() // never released: the drain is still waiting when the SIGKILL comes
    const home = sb.home(modelConfig(model, { drain: "10m" }))
    const first = sb.run(home, {}, "first gateway")
    const port = await first.waitRunning()
    const turn = await startStreamingTurn(port, "hi")

    first.signal("SIGTERM")
    await first.waitLog("draining 1 turn(s)")
    expect(home.readState()).toMatchObject({ gateway_state: "draining" })
    first.signal("SIGKILL")
    expect(await first.waitExit()).toEqual({ code: null, signal: "SIGKILL" })
    expect((await turn.end).done).toBe(false) // the connection died with it

    const clean = JSON.parse(fs.readFileSync(home.cleanShutdown, "utf8"))
    expect(clean).toMatchObject({ pid: first.pid, classification: "unplanned" })

    const second = sb.run(home, {}, "second gateway")
    await second.waitRunning()
    expect(second.stderr).toMatch(new RegExp(`previous life \\(pid ${first.pid}\\) shut down cleanly after an unplanned stop`))
    expect(fs.existsSync(home.cleanShutdown)).toBe(false) // consumed
    const start = home.lifecycle().filter((r) => r.event === "start").at(-1)!
    expect(start).toMatchObject({ pid: second.pid, previous_life: { verdict: "ended_in_order", pid: first.pid } })

    second.signal("SIGINT")
    expect(await second.waitExit()).toEqual({ code: 0, signal: null })
  })
})
