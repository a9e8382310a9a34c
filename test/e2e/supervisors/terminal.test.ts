// The gateway in a plain terminal: its own process group, Ctrl+C = SIGINT to the group, and no
// supervisor to restart it. The same five scenarios, with what a terminal means for each.
import * as fs from "node:fs"
import { beforeAll, describe, expect, it, type TestContext } from "vitest"
import { assertBuilt, chat } from "../harness.js"
import { invalidConfig, longDrainConfig, plainConfig } from "./conformance.js"
import { publishMatrix, scenario, skipScenario } from "./matrix.js"
import { hermes, homeIn, isAlive, Scratch, unavailable, waitFor, within } from "./support.js"
import { processGroupOf, Terminal } from "./terminal.js"

beforeAll(assertBuilt)
publishMatrix("terminal")

const open = (ctx: TestContext, config: string) => {
  const missing = unavailable([], false)
  if (missing !== undefined) skipScenario(missing)
  const scratch = new Scratch(ctx, "terminal")
  const home = homeIn(scratch.path("home"))
  fs.writeFileSync(home.config, config)
  return { scratch, home, terminal: new Terminal(scratch, home) }
}

const running = (terminal: Terminal) =>
  waitFor("the gateway running in the terminal", () => {
    const state = terminal.home.readState()
    const gateway = terminal.gateway()
    return state?.gateway_state === "running" && gateway !== undefined ? gateway : undefined
  }, { timeoutMs: 15_000, context: () => terminal.job.log() })

const exitOf = (terminal: Terminal) => within(20_000, "the job's exit", terminal.job.exited)

describe.concurrent("terminal: conformance", () => {
  it("1. Ctrl+C (SIGINT to the process group) is a planned stop: exit 0, desired_state stopped", (ctx) =>
    scenario(ctx, "terminal", ["1"], async () => {
      const { terminal, home } = open(ctx, plainConfig)
      await running(terminal)
      terminal.ctrlC()
      expect(await exitOf(terminal)).toEqual({ code: 0, signal: null })
      expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
    }))

  it("1h. `hermes gateway stop`: marker + SIGTERM, exit 0, desired_state stopped", (ctx) =>
    scenario(ctx, "terminal", ["1h"], async () => {
      const { terminal, home } = open(ctx, plainConfig)
      await running(terminal)
      const stop = await hermes(["gateway", "stop", "--home", home.dir])
      expect(stop.code, stop.stdout + stop.stderr).toBe(0)
      expect(await exitOf(terminal)).toEqual({ code: 0, signal: null })
      expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
    }))

  it("2. a plain SIGTERM: exit 1, run-intent kept for whatever starts it next", (ctx) =>
    scenario(ctx, "terminal", ["2"], async () => {
      const { terminal, home } = open(ctx, plainConfig)
      const gateway = await running(terminal)
      process.kill(gateway.pid, "SIGTERM")
      expect(await exitOf(terminal)).toEqual({ code: 1, signal: null })
      expect(home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1 })
      return { note: "no supervisor to restart it: exit 1 and gateway_state running, so a supervisor or `gateway boot` would" }
    }))

  for (const [id, how] of [["3", "`hermes gateway restart`"], ["3s", "SIGUSR1"]] as const) {
    it(`${id}. ${how}: the successor starts in the same terminal and process group; Ctrl+C then ends both with 0`, (ctx) =>
      scenario(ctx, "terminal", [id], async () => {
        const { terminal, home, scratch } = open(ctx, plainConfig)
        const first = await running(terminal)
        const restart = id === "3" ? hermes(["gateway", "restart", "--home", home.dir]) : undefined
        if (restart === undefined) process.kill(first.pid, "SIGUSR1")
        const successor = await waitFor("the successor running", () => {
          const gateway = terminal.gateway()
          return gateway !== undefined && gateway.pid !== first.pid && home.readState()?.gateway_state === "running" ? gateway : undefined
        }, { timeoutMs: 15_000, context: () => terminal.job.log() })
        scratch.track(successor)
        if (restart !== undefined) {
          const result = await restart
          expect(result.code, result.stdout + result.stderr).toBe(0)
        }
        expect(terminal.job.alive(), "the first process stays as the successor's parent").toBe(true)
        expect(processGroupOf(successor.pid)).toBe(terminal.job.incarnation.pid)
        expect(home.lifecycle().filter((e) => e.event === "shutdown")[0]).toMatchObject({ classification: "restart" })
        terminal.ctrlC()
        expect(await exitOf(terminal)).toEqual({ code: 0, signal: null })
        await waitFor("the successor gone", () => !isAlive(successor))
        expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", pid: successor.pid })
        return { note: "unsupervised: no exit 75 to a supervisor; the gateway restarts itself in place (CONTRACT 3.4)" }
      }))
  }

  it("4. invalid config: exit 78 naming the key", (ctx) =>
    scenario(ctx, "terminal", ["4"], async () => {
      const { terminal } = open(ctx, invalidConfig)
      expect(await exitOf(terminal)).toEqual({ code: 78, signal: null })
      expect(terminal.job.log()).toContain("drain_timeot")
    }))

  it("5. a long drain: a terminal has no kill timeout; a second Ctrl+C forces the stop, exit 0", (ctx) =>
    scenario(ctx, "terminal", ["5"], async () => {
      const { terminal, home } = open(ctx, longDrainConfig(60))
      await running(terminal)
      // The echo agent takes 60 s, longer than the test: only the second Ctrl+C can end this turn.
      const reply = chat(home.readState()!.platforms.http.port, "a long turn", 60_000)
      reply.catch(() => {})
      await waitFor("the turn in flight", () => home.readState()?.active_turns === 1, { timeoutMs: 30_000 })
      terminal.ctrlC()
      await waitFor("the drain", () => /draining 1 turn/.test(terminal.job.log()) || home.readState()?.gateway_state === "draining", {
        timeoutMs: 30_000
      })
      terminal.ctrlC()
      expect(await exitOf(terminal)).toEqual({ code: 0, signal: null })
      expect(home.readState()).toMatchObject({
        gateway_state: "stopped",
        desired_state: "stopped",
        shutdown: { deadline_fired: "forced", turns_interrupted: 1 }
      })
      expect((await reply).status).toBe(503)
      return { note: "the operator is the kill timeout: the second Ctrl+C interrupts the turn (503) and still exits 0" }
    }))

  it("5b. budget warning at start", (ctx) =>
    scenario(ctx, "terminal", ["5b"], async () => skipScenario("a terminal has no kill timeout to compare the budget with")))
})
