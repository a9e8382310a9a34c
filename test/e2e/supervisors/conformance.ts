// The conformance scenarios (CONTRACT 3, issue "Supervised runs under any init", item 7), written
// once against a small interface that each supervisor harness implements with the supervisor's own
// commands: its planned stop, how it reports the gateway's pid and every exit it saw, how it starts
// the service. Each scenario runs in its own scratch directory with its own supervisor instance, so
// the scenarios of one supervisor run concurrently.
import * as fs from "node:fs"
import { describe, expect, it, type TestContext } from "vitest"
import { chat, type Home } from "../harness.js"
import { installUnavailable } from "./definitions.js"
import { publishMatrix, scenario, skipScenario } from "./matrix.js"
import {
  hermes,
  homeIn,
  type Incarnation,
  isAlive,
  sameIncarnation,
  type RunResult,
  Scratch,
  signalIncarnation,
  sleep,
  unavailable,
  waitFor
} from "./support.js"

/** One exit of the gateway as its supervisor reported it. */
export interface Exit {
  readonly code: number | null
  readonly signal: string | null
}

export const exitCode = (code: number): Exit => ({ code, signal: null })
export const killedBy = (signal: string): Exit => ({ code: null, signal })

/** A gateway service under one supervisor instance, driven through the supervisor. */
export interface Service {
  /** The kill timeout the installed definition gives the supervisor (SIGTERM to SIGKILL), in ms. */
  readonly killTimeoutMs: number
  /** Starts the supervisor with the service (first call), or asks it to start the service again. */
  readonly start: () => Promise<void>
  /** The gateway process the supervisor runs now (host pid), or undefined while there is none. */
  readonly current: () => Promise<Incarnation | undefined>
  /** Whether the supervisor itself considers the service started (systemd: active after READY=1). */
  readonly ready?: () => Promise<boolean>
  /** Every exit of the gateway that the supervisor observed, oldest first. */
  readonly exits: () => Promise<ReadonlyArray<Exit>>
  /** The supervisor's planned stop (the stop hook writes the marker first); resolves when its command returns. */
  readonly plannedStop: () => Promise<void>
  /** A planned stop that the supervisor bounds with its kill timeout, where that differs (runit). */
  readonly boundedStop?: () => Promise<void>
  /** The gateway's stderr as the supervisor captured it. */
  readonly gatewayLog: () => string
  /**
   * `hermes ARGS` as an operator runs it for this supervisor: on the host with the environment a
   * shell there has (systemd: XDG_RUNTIME_DIR), or inside the container (docker exec). Default: on the host.
   */
  readonly operator?: (args: ReadonlyArray<string>) => Promise<RunResult>
  /** The operator's commands run inside the container and end with it (so their exit says nothing). */
  readonly insideContainer?: boolean
  /** Supervisor-specific checks after a planned stop (systemd: inactive, Result=success). */
  readonly afterPlannedStop?: () => Promise<void>
  /** Supervisor-specific checks once a restart (exit 75) is back up (systemd: Result=success, NRestarts grew). */
  readonly afterRestart?: () => Promise<void>
  /** Supervisor-specific checks while a drain outlives the kill timeout (systemd: still deactivating). */
  readonly duringLongDrain?: () => Promise<void>
}

export interface Setup {
  readonly scratch: Scratch
  readonly home: Home
}

export interface SupervisorUnderTest {
  /** Matrix row, test file label. */
  readonly name: string
  /** Commands that must exist; otherwise every scenario is skipped with the reason. */
  readonly binaries: ReadonlyArray<string>
  /** How long the supervisor may wait before a restart (its delay + a start): past it, none is coming. */
  readonly restartWindowMs: number
  /** Installs the definition for `setup.home` (its config.yaml is already there) and prepares the supervisor. */
  readonly prepare: (setup: Setup) => Promise<Service>
  /** Exit 78 is restarted anyway, as the definition documents: the limitation, for the matrix. */
  readonly restartsInvalidConfig?: string
  /** A drain longer than the kill timeout is extended by the gateway (systemd EXTEND_TIMEOUT_USEC), not killed. */
  readonly extendsKillTimeout?: boolean
  /** Why the gateway cannot read this supervisor's kill timeout at start (CONTRACT 3.3), if it cannot. */
  readonly budgetUnreadable?: string
  /** More matrix cells a scenario also proves, e.g. { "1": ["sd-stop"] }. */
  readonly alsoProves?: Readonly<Record<string, ReadonlyArray<string>>>
  /**
   * A planned stop from inside (`hermes gateway stop` in the container) exits 0 and the runtime
   * starts it again, as the definition documents: the limitation, for the matrix.
   */
  readonly restartsPlannedExit?: string
}

// ---------------------------------------------------------------------------------------------
// Configurations

const httpOnLoopback = ["adapters:", "  http:", "    port: 0"]

export const plainConfig = [...httpOnLoopback, ""].join("\n")

/** A typo in a key: the gateway must exit 78 naming it. */
export const invalidConfig = ["gateway:", "  drain_timeot: 5s", ...httpOnLoopback, ""].join("\n")

/**
 * The budget the definition is installed from in scenario 5: every bounded step 0 s, so the kill
 * timeout install writes is its floor (hard deadline 5 s + 5 s = 10 s). The gateway then runs with
 * a drain far longer than that, as after an operator raised drain_timeout without reinstalling.
 */
export const tightBudgetConfig = [
  "gateway:",
  "  drain_timeout: 0s",
  "  adapter_disconnect_timeout: 0s",
  "  db_close_timeout: 0s",
  ...httpOnLoopback,
  ""
].join("\n")

export const longDrainConfig = (echoDelaySeconds: number, drainSeconds = 120): string =>
  ["gateway:", `  drain_timeout: ${drainSeconds}s`, ...httpOnLoopback, "agent:", "  echo:", `    delay: ${echoDelaySeconds}s`, ""]
    .join("\n")

// ---------------------------------------------------------------------------------------------
// Steps shared by the scenarios

export interface Running {
  readonly scratch: Scratch
  readonly home: Home
  readonly service: Service
  readonly sut: SupervisorUnderTest
}

/** Skips (before anything is started) when the supervisor or the install command is missing. */
export const requireSupervisor = async (sut: SupervisorUnderTest): Promise<void> => {
  const missing = unavailable(sut.binaries)
  if (missing !== undefined) skipScenario(missing)
  const blocked = await installUnavailable()
  if (blocked !== undefined) skipScenario(blocked)
}

/** A scratch dir and home, the definition installed from `configs.install`, then `configs.run` written for the gateway. */
export const prepareService = async (
  ctx: TestContext,
  sut: SupervisorUnderTest,
  configs: { readonly install?: string; readonly run?: string } = {}
): Promise<Running> => {
  const scratch = new Scratch(ctx, sut.name)
  const home = homeIn(scratch.path("home"))
  fs.writeFileSync(home.config, configs.install ?? plainConfig)
  const service = await sut.prepare({ scratch, home })
  fs.writeFileSync(home.config, configs.run ?? configs.install ?? plainConfig)
  scratch.describeWith(() => `--- gateway log (${sut.name}) ---\n${service.gatewayLog()}`)
  scratch.describeWith(() => `--- gateway_state.json ---\n${JSON.stringify(home.readState(), null, 1)}`)
  return { scratch, home, service, sut }
}

/**
 * Waits until the supervisor runs a gateway other than `previous` and that gateway wrote
 * gateway_state "running" with its own start time (the state file's pid may be a namespace pid;
 * the start time is the same in every namespace).
 */
export const waitUp = async (r: Running, previous?: Incarnation, timeoutMs = 20_000): Promise<Incarnation> =>
  waitFor(`a gateway running under ${r.sut.name}`, async () => {
    const now = await r.service.current()
    if (now === undefined || sameIncarnation(now, previous)) return undefined
    r.scratch.track(now)
    const state = r.home.readState()
    if (state?.gateway_state !== "running" || String(state.start_time) !== now.startTime || !isAlive(now)) return undefined
    return r.service.ready === undefined || await r.service.ready() ? now : undefined
  }, { timeoutMs, intervalMs: 50, context: () => r.service.gatewayLog().split("\n").slice(-15).join("\n") })

export const waitExits = async (r: Running, count: number, timeoutMs = 20_000): Promise<ReadonlyArray<Exit>> =>
  waitFor(`${count} exit(s) reported by ${r.sut.name}`, async () => {
    const exits = await r.service.exits()
    return exits.length >= count ? exits : undefined
  }, { timeoutMs, intervalMs: 50, context: () => r.service.gatewayLog().split("\n").slice(-15).join("\n") })

/** Nothing restarts the gateway within the supervisor's restart window. */
export const expectStaysDown = async (r: Running, exitsSoFar: number): Promise<void> => {
  // An absence over the supervisor's restart window is the thing under test: no fact to wait on.
  await sleep(r.sut.restartWindowMs)
  const now = await r.service.current()
  r.scratch.track(now)
  expect(now, `${r.sut.name} started the gateway again`).toBeUndefined()
  expect(await r.service.exits(), `${r.sut.name} saw more exits than expected`).toHaveLength(exitsSoFar)
}

const operator = (r: Running, args: ReadonlyArray<string>): Promise<RunResult> =>
  r.service.operator !== undefined ? r.service.operator(args) : hermes(args)

/** Whether this build has `hermes gateway restart` (asked once). */
let restartAvailability: Promise<boolean> | undefined
const restartCommandAvailable = (): Promise<boolean> =>
  (restartAvailability ??= hermes(["gateway", "restart", "--help"]).then((r) => r.code === 0 && /restart/.test(r.stdout)))

const lastShutdown = (home: Home): Record<string, any> | undefined =>
  home.lifecycle().filter((r) => r.event === "shutdown").at(-1)

const portOf = (home: Home): number => {
  const port = home.readState()?.platforms?.http?.port
  if (typeof port !== "number") throw new Error(`no HTTP port in gateway_state.json: ${JSON.stringify(home.readState())}`)
  return port
}

// ---------------------------------------------------------------------------------------------
// The scenarios

const ids = (sut: SupervisorUnderTest, id: string): Array<string> => [id, ...(sut.alsoProves?.[id] ?? [])]

/** Registers the scenarios of one supervisor (and `extra` tests of its own), run concurrently, and the matrix publication. */
export const defineConformance = (sut: SupervisorUnderTest, extra?: () => void): void => {
  publishMatrix(sut.name)
  const run = (ctx: TestContext, id: string, body: Parameters<typeof scenario>[3]) =>
    scenario(ctx, sut.name, ids(sut, id), body)

  describe.concurrent(`${sut.name}: conformance`, () => {
    // The longest scenario first: vitest runs at most 5 of them at once.
    it("5. a drain longer than the kill timeout", (ctx) =>
      run(ctx, "5", async () => {
        await requireSupervisor(sut)
        // The kill timeout is only known once installed; the turn must outlast it.
        const r = await prepareService(ctx, sut, { install: tightBudgetConfig })
        const delaySeconds = Math.ceil(r.service.killTimeoutMs / 1000) + (sut.extendsKillTimeout === true ? 6 : 60)
        fs.writeFileSync(r.home.config, longDrainConfig(delaySeconds))
        await r.service.start()
        const gateway = await waitUp(r)
        const reply = chat(portOf(r.home), "a long turn", (delaySeconds + 20) * 1000)
        reply.catch(() => {})
        await waitFor("the turn in flight", () => r.home.readState()?.active_turns === 1, {
          timeoutMs: 30_000,
          context: () => r.service.gatewayLog().split("\n").slice(-10).join("\n")
        })

        const stopStarted = Date.now()
        const stopping = (r.service.boundedStop ?? r.service.plannedStop)()
        stopping.catch(() => {})
        await waitFor("the gateway draining the turn", () => /draining 1 turn/.test(r.service.gatewayLog()), {
          timeoutMs: 30_000,
          context: () => r.service.gatewayLog().split("\n").slice(-10).join("\n")
        })
        if (sut.extendsKillTimeout === true) {
          // Past the supervisor's own timeout the gateway is still draining, not killed. The wait is
          // the thing under test: the supervisor's timeout passing.
          await sleep(Math.max(0, stopStarted + r.service.killTimeoutMs + 1500 - Date.now()))
          expect({ alive: isAlive(gateway), exits: await r.service.exits() }, "killed at the supervisor's timeout")
            .toEqual({ alive: true, exits: [] })
          await r.service.duringLongDrain?.()
          const exits = await waitExits(r, 1, delaySeconds * 1000 + 15_000)
          expect(exits[0]).toEqual(exitCode(0))
          expect((await reply).status).toBe(200)
          expect(r.home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped" })
          await stopping
          return { note: `turn of ${delaySeconds}s completed past a ${r.service.killTimeoutMs / 1000}s stop timeout` }
        }
        const exits = await waitExits(r, 1, r.service.killTimeoutMs + 20_000)
        const tookMs = Date.now() - stopStarted
        expect(exits[0]).toEqual(killedBy("SIGKILL"))
        expect(tookMs, "killed before the kill timeout").toBeGreaterThanOrEqual(r.service.killTimeoutMs - 1000)
        expect(isAlive(gateway)).toBe(false)
        // The first step of every orderly shutdown ran before the kill: the next start knows.
        const clean = JSON.parse(fs.readFileSync(r.home.cleanShutdown, "utf8"))
        expect(clean).toMatchObject({ start_time: gateway.startTime })
        expect(r.home.readState()).toMatchObject({ gateway_state: "draining" })
        await stopping
        await expectStaysDown(r, 1)
        return { note: `SIGKILL after ${(tookMs / 1000).toFixed(1)}s (kill timeout ${r.service.killTimeoutMs / 1000}s, turn ${delaySeconds}s)` }
      }), 90_000)

    it("1. planned stop: exit 0, not restarted, desired_state stopped", (ctx) =>
      run(ctx, "1", async () => {
        await requireSupervisor(sut)
        const r = await prepareService(ctx, sut)
        await r.service.start()
        const first = await waitUp(r)

        await r.service.plannedStop()
        const exits = await waitExits(r, 1)
        expect(exits[0]).toEqual(exitCode(0))
        await waitFor("the gateway gone", () => !isAlive(first))
        await expectStaysDown(r, 1)
        expect(r.home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
        expect(lastShutdown(r.home)).toMatchObject({ classification: "planned", exit_code: 0 })
        await r.service.afterPlannedStop?.()
      }))

    it("1h. `hermes gateway stop` routes through the supervisor: exit 0, not restarted", (ctx) =>
      run(ctx, "1h", async () => {
        await requireSupervisor(sut)
        const r = await prepareService(ctx, sut)
        await r.service.start()
        const first = await waitUp(r)

        const stop = await operator(r, ["gateway", "stop", "--home", r.home.dir])
        if (r.service.insideContainer !== true) expect(stop.code, stop.stdout + stop.stderr).toBe(0)
        const exits = await waitExits(r, 1)
        expect(exits[0]).toEqual(exitCode(0))
        if (sut.restartsPlannedExit !== undefined) {
          await waitUp(r, first)
          return { limit: sut.restartsPlannedExit }
        }
        await expectStaysDown(r, 1)
        expect(r.home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
        return { note: stop.stdout.split("\n").find((l) => /through|stopping/.test(l))?.trim() ?? "" }
      }))

    it("2. unplanned SIGTERM from outside: exit 1, restarted, gateway_state running", (ctx) =>
      run(ctx, "2", async () => {
        await requireSupervisor(sut)
        const r = await prepareService(ctx, sut)
        await r.service.start()
        const first = await waitUp(r)

        expect(signalIncarnation(first, "SIGTERM")).toBe(true)
        const second = await waitUp(r, first)
        expect((await r.service.exits())[0]).toEqual(exitCode(1))
        expect(second.startTime).not.toBe(first.startTime)
        expect(r.home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running" })
        expect(r.home.lifecycle().filter((e) => e.event === "shutdown")[0]).toMatchObject({
          classification: "unplanned",
          signal: "SIGTERM",
          exit_code: 1
        })
      }))

    it("3. restart (`hermes gateway restart`): exit 75, back up with a new process", (ctx) =>
      run(ctx, "3", async () => {
        await requireSupervisor(sut)
        if (!(await restartCommandAvailable())) skipScenario("`hermes gateway restart` is not in this build")
        const r = await prepareService(ctx, sut)
        await r.service.start()
        const first = await waitUp(r)

        const restart = operator(r, ["gateway", "restart", "--home", r.home.dir])
        await waitUp(r, first)
        const result = await restart
        // In a container the command waits inside the old container's namespace, which ends with it.
        if (r.service.insideContainer !== true) expect(result.code, result.stdout + result.stderr).toBe(0)
        expect((await r.service.exits())[0]).toEqual(exitCode(75))
        expect(r.home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running" })
        expect(r.home.lifecycle().filter((e) => e.event === "shutdown")[0]).toMatchObject({
          classification: "restart",
          exit_code: 75
        })
        await r.service.afterRestart?.()
      }))

    it("3s. restart (SIGUSR1): exit 75, back up with a new process", (ctx) =>
      run(ctx, "3s", async () => {
        await requireSupervisor(sut)
        const r = await prepareService(ctx, sut)
        await r.service.start()
        const first = await waitUp(r)

        expect(signalIncarnation(first, "SIGUSR1")).toBe(true)
        await waitUp(r, first)
        expect((await r.service.exits())[0]).toEqual(exitCode(75))
        expect(r.home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running" })
        expect(r.home.lifecycle().filter((e) => e.event === "shutdown")[0]).toMatchObject({
          classification: "restart",
          exit_code: 75
        })
        await r.service.afterRestart?.()
      }))

    it("4. invalid config: exit 78, not restarted", (ctx) =>
      run(ctx, "4", async () => {
        await requireSupervisor(sut)
        const r = await prepareService(ctx, sut, { install: plainConfig, run: invalidConfig })
        await r.service.start()

        const exits = await waitExits(r, 1)
        expect(exits[0]).toEqual(exitCode(78))
        await waitFor("the config error in the gateway's log", () => r.service.gatewayLog().includes("drain_timeot"))
        if (sut.restartsInvalidConfig !== undefined) {
          // The supervisor cannot exclude an exit code: it retries, and every try exits 78 again.
          const again = await waitExits(r, 2, r.sut.restartWindowMs + 10_000)
          expect(again.every((e) => e.code === 78), JSON.stringify(again)).toBe(true)
          return { limit: sut.restartsInvalidConfig }
        }
        await expectStaysDown(r, 1)
        return undefined
      }))

    it("5b. the gateway warns at start when the supervisor's kill timeout is below its budget", (ctx) =>
      run(ctx, "5b", async () => {
        await requireSupervisor(sut)
        if (sut.budgetUnreadable !== undefined) skipScenario(sut.budgetUnreadable)
        const r = await prepareService(ctx, sut, { install: tightBudgetConfig, run: longDrainConfig(0) })
        await r.service.start()
        await waitUp(r)
        // Installed for a 10 s kill timeout; run with a 120 s drain (hard deadline 2min 15s, so the
        // supervisor should wait 2min 20s). The timeout is read in the background after start.
        const kill = `${Math.round(r.service.killTimeoutMs / 1000)}s`
        const warning = await waitFor(`a warning at start naming the ${kill} kill timeout and the budget`, () =>
          r.service.gatewayLog().split("\n").find((line) =>
            /level=WARN/.test(line) && new RegExp(`\\b${kill}\\b`).test(line) && /2min 15s/.test(line) && /2min 20s/.test(line)
          ), { timeoutMs: 15_000, context: () => r.service.gatewayLog().split("\n").slice(-10).join("\n") })
        return { note: warning.trim().slice(0, 160) }
      }))

    extra?.()
  })
}
