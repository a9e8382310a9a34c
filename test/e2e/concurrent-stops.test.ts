// End-to-end: concurrent stop and restart commands end in one well-defined outcome. The last
// planned stop wins over a restart, no command reports success for something that did not happen,
// and the gateway never exits by a signal it had claimed.
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, chat, type CliResult, defaultConfig, type Gateway, type Home, Sandbox, waitFor } from "./harness.js"
import { readStartTime } from "../../src/home/ProcessIdentity.js"

beforeAll(assertBuilt)

/**
 * Each test runs several gateway lives (rounds, restarts) one after another, every step waiting on
 * a fact; on a machine whose cores are all busy a life takes seconds to start, so the suite's 60 s
 * per test is too little for the whole sequence. The steps keep their own deadlines.
 */
const severalLives = 240_000

/** Whether the process recorded in gateway_state.json is still that process. */
const recordedAlive = (home: Home): boolean => {
  const state = home.readState()
  return typeof state?.pid === "number" && typeof state.start_time === "string" && readStartTime(state.pid) === state.start_time
}

/** After the whole chain is gone: stopped for good, and nobody holds the home. */
const expectStoppedForGood = async (ctx: { expect: any }, sb: Sandbox, gw: Gateway, home: Home) => {
  const { expect } = ctx
  expect(await gw.waitExit(40_000), gw.describe()).toEqual({ code: 0, signal: null })
  expect(home.readState(), gw.describe()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
  expect(recordedAlive(home), "no gateway is left running").toBe(false)
  const status = await sb.cli(["gateway", "status", "--home", home.dir])
  expect(status.code, status.stdout).toBe(3)
}

/**
 * Successors are started by the gateway, not by the test: each one the state file names is adopted
 * by the sandbox, so that none outlives a failing test.
 */
const adoptSuccessors = (ctx: { onTestFinished: (fn: () => void) => void }, sb: Sandbox, home: Home): void => {
  const timer = setInterval(() => {
    const pid = home.readState()?.pid
    if (typeof pid === "number") sb.adopt(pid)
  }, 50)
  ctx.onTestFinished(() => clearInterval(timer))
}

const stopArgs = (home: Home) => ["gateway", "stop", "--home", home.dir, "--timeout", "60s"]
const restartArgs = (home: Home) => ["gateway", "restart", "--home", home.dir, "--timeout", "60s"]

describe.concurrent("concurrent stop and restart commands", () => {
  it("two `stop` at once: the gateway exits 0, both commands exit 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    for (let round = 0; round < 3; round++) {
      const home = sb.home()
      const gw = sb.run(home, {}, `gateway round ${round}`)
      adoptSuccessors(ctx, sb, home)
      await gw.waitRunning()
      const [a, b] = await Promise.all([sb.cli(stopArgs(home)), sb.cli(stopArgs(home))])
      expect(a.code, a.stdout + a.stderr).toBe(0)
      expect(b.code, b.stdout + b.stderr).toBe(0)
      await expectStoppedForGood(ctx, sb, gw, home)
    }
  }, severalLives)

  it("three `restart` at once (no supervisor): one successor runs, every command says which", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    adoptSuccessors(ctx, sb, home)
    await gw.waitRunning()
    const results = await Promise.all([sb.cli(restartArgs(home)), sb.cli(restartArgs(home)), sb.cli(restartArgs(home))])
    const successor = await gw.waitSuccessor()
    sb.adopt(successor)
    for (const result of results) {
      expect(result.code, `${result.stdout}${result.stderr}\n${gw.describe()}`).toBe(0)
      expect(result.stdout).toMatch(/gateway restarted \(pid \d+ → \d+\)/)
    }
    expect(gw.alive, "the first process stays as the successor's parent").toBe(true)
    // Whatever the interleaving, the home ends with one live gateway that a stop ends with 0.
    const running = await gw.waitState("one live gateway", (state) => state.gateway_state === "running" && recordedAlive(home))
    expect(running).toBe(true)
    const stop = await sb.cli(stopArgs(home))
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    await expectStoppedForGood(ctx, sb, gw, home)
  }, severalLives)

  it("`stop` while a restart drains a turn: the stop overrides the restart, no successor is started", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(defaultConfig({ delay: "60s", drain: "90s" }))
    const gw = sb.run(home)
    adoptSuccessors(ctx, sb, home)
    const port = await gw.waitRunning()
    const reply = chat(port, "a slow one")
    reply.catch(() => {})
    await gw.waitState("the turn in flight", (state) => state.active_turns === 1)
    const restart = sb.cli(restartArgs(home))
    await gw.waitLog("draining 1 turn(s)", 30_000)
    const stop = await sb.cli(stopArgs(home))
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    await expectStoppedForGood(ctx, sb, gw, home)
    expect(gw.stderr).toContain("overrides the restart in progress")
    expect(gw.stderr).not.toContain("starting the successor")
    // The stop's SIGTERM is a second signal: it also forces the drain (CONTRACT 3.2).
    await reply
    const restarted = await restart
    expect(restarted.code).toBe(1)
    expect(restarted.stderr).toContain("wins over a restart")
  }, severalLives)

  it("`stop` while a successor (supervised by its restart parent) restarts: the stop follows it to the next one", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    adoptSuccessors(ctx, sb, home)
    await gw.waitRunning()
    gw.signal("SIGUSR1")
    const first = await gw.waitSuccessor()
    sb.adopt(first)
    // The successor's restart is an exit 75 to its parent, which starts the next one.
    const restart = sb.cli(restartArgs(home))
    await waitFor("the successor's final state", () => (gw.stderr.match(/gateway exiting code=75/g) ?? []).length >= 2, {
      timeoutMs: 30_000,
      context: () => gw.describe()
    })
    const stop = await sb.cli(stopArgs(home))
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect(stop.stdout).not.toContain("not running")
    await expectStoppedForGood(ctx, sb, gw, home)
    await restart
  }, severalLives)

  const stopMoments = [
    { name: "right after the restart was asked", line: "shutdown context" },
    { name: "when the old gateway has written its final state", line: "gateway exiting code=75" },
    { name: "while the successor is being started", line: "starting the successor" }
  ] as const

  for (const moment of stopMoments) {
    it(`\`stop\` ${moment.name}: the stop wins, nothing keeps running`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      // A few rounds: where the stop lands relative to the hand-off varies from one to the next.
      for (let round = 0; round < 3; round++) {
        const home = sb.home()
        const gw = sb.run(home, {}, `gateway round ${round}`)
        adoptSuccessors(ctx, sb, home)
        await gw.waitRunning()
        const restart = sb.cli(restartArgs(home))
        await gw.waitLog(moment.line, 30_000)
        const stop = await sb.cli(stopArgs(home))
        expect(stop.code, stop.stdout + stop.stderr).toBe(0)
        expect(stop.stdout).not.toContain("not running")
        await expectStoppedForGood(ctx, sb, gw, home)
        const restarted: CliResult = await restart
        // The restart either saw its successor come up (and then stopped) or was told the stop won.
        if (restarted.code === 0) expect(restarted.stdout).toMatch(/gateway restarted/)
        else expect(restarted.stderr).toContain("wins over a restart")
      }
    }, severalLives)
  }
})
