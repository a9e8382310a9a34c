// End-to-end crash-safety matrix (issue "Shutdown forensics, watchdogs and crash safety", item 6;
// CONTRACT 1, 2, 5): the gateway is frozen at a precise moment — each of the eight shutdown phases,
// start-up steps around the lock and the atomic writes, a stopper in the middle of writing its
// marker — or hit at a random moment under load, and SIGKILLed there. Then:
//   - gateway_state.json, gateway.pid, .clean_shutdown and .gateway-planned-stop.json are each
//     absent or complete, valid JSON (temp files left behind are noted, not counted: no reader
//     opens them);
//   - `status` agrees with the files;
//   - the next `run` on the same home is not blocked, reaches running within seconds, and tells
//     the previous life right (logs/lifecycle.jsonl `start` record and the log line);
//   - `hermes gateway stop` then stops it cleanly (0).
// The pauses come from outside the bundle: fixtures/pause-at-phase.mjs, preloaded with --import.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ExpectStatic, TestContext } from "vitest"
import { afterAll, beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import {
  assertBuilt,
  chat,
  type CliResult,
  defaultConfig,
  Gateway,
  hermesJs,
  type Home,
  readyz,
  Sandbox,
  shutdownOrder,
  sleep,
  startTimeOf,
  waitFor,
  writeMarker
} from "./harness.js"
import { heldTurn, modelConfig } from "./Turns.js"

beforeAll(assertBuilt)

const pauseFixture = fileURLToPath(new URL("./fixtures/pause-at-phase.mjs", import.meta.url))

// --- processes with the pause preload --------------------------------------------------------

/** Our environment minus HERMES_* and NODE_OPTIONS (as the harness does), plus `extra`. */
const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("HERMES_") && key !== "NODE_OPTIONS") env[key] = value
  }
  return { ...env, ...extra }
}

/** A Sandbox (homes, CLI runs) plus gateways and CLIs spawned with the pause preload. */
class Lab {
  readonly sb: Sandbox
  private readonly spawned: Array<{ child: ChildProcess; describe: () => string }> = []

  constructor(ctx: TestContext) {
    this.sb = new Sandbox(ctx)
    ctx.onTestFailed(() => {
      for (const { describe } of this.spawned) process.stderr.write(`\n[${ctx.task.name}]\n${describe()}\n`)
    })
    ctx.onTestFinished(() => {
      for (const { child } of this.spawned) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }
    })
  }

  /** `node [--import pause-at-phase.mjs] dist/hermes.js gateway run --home DIR`. */
  run(home: Home, options: { pauseAt?: string; env?: Record<string, string>; label?: string } = {}): Gateway {
    const preload = options.pauseAt !== undefined ? ["--import", pauseFixture] : []
    const child = spawn(process.execPath, [...preload, hermesJs, "gateway", "run", "--home", home.dir], {
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv({ ...options.env, ...(options.pauseAt !== undefined ? { HERMES_TEST_PAUSE_AT: options.pauseAt } : {}) })
    })
    const gateway = new Gateway(child, home, options.label ?? `gateway${options.pauseAt !== undefined ? ` paused at ${options.pauseAt}` : ""}`)
    this.spawned.push({ child, describe: () => gateway.describe() })
    return gateway
  }

  /** A `hermes` command with the pause preload, left running (it may be frozen on purpose). */
  cliPaused(args: ReadonlyArray<string>, pauseAt: string): { child: ChildProcess; output: () => string; closed: Promise<CliResult> } {
    const child = spawn(process.execPath, ["--import", pauseFixture, hermesJs, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv({ HERMES_TEST_PAUSE_AT: pauseAt })
    })
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const output = () => `--- hermes ${args.join(" ")} paused at ${pauseAt} (pid ${child.pid}) ---\nstdout:\n${stdout}\nstderr:\n${stderr}`
    this.spawned.push({ child, describe: output })
    const closed = new Promise<CliResult>((resolve) =>
      child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
    )
    return { child, output, closed }
  }
}

/** Waits for the preload's `PAUSED <spec>` line: the gateway is frozen exactly there. */
const waitPaused = (gw: Gateway, spec: string) => gw.waitLog(`PAUSED ${spec}\n`, 30_000)

const kill9 = async (gw: Gateway, expect: ExpectStatic) => {
  gw.signal("SIGKILL")
  expect(await gw.waitExit(30_000), gw.describe()).toEqual({ code: null, signal: "SIGKILL" })
}

// --- what a SIGKILL left on disk ---------------------------------------------------------------

const requiredKeys: Record<string, ReadonlyArray<string>> = {
  "gateway_state.json": ["gateway_state", "pid", "start_time", "updated_at"],
  "gateway.pid": ["pid", "start_time", "argv", "home", "started_at"],
  ".clean_shutdown": ["pid", "start_time", "classification", "written_at"],
  ".gateway-planned-stop.json": ["target_pid", "target_start_time", "action", "stopper_pid", "written_at"]
}

interface DiskView {
  /** file → "absent" | "valid" | why it is not. */
  readonly files: Record<string, string>
  readonly docs: Record<string, Record<string, any> | undefined>
  /** Files a reader could see half-written (must stay empty). */
  readonly corrupt: ReadonlyArray<string>
  /** Temp files of the atomic writes left behind (no reader opens them; noted). */
  readonly temps: ReadonlyArray<string>
}

const inspectHome = (home: Home): DiskView => {
  const files: Record<string, string> = {}
  const docs: Record<string, Record<string, any> | undefined> = {}
  const corrupt: Array<string> = []
  for (const [name, keys] of Object.entries(requiredKeys)) {
    const file = path.join(home.dir, name)
    let text: string
    try {
      const stat = fs.lstatSync(file)
      if (!stat.isFile()) {
        files[name] = "not a regular file"
        corrupt.push(name)
        continue
      }
      text = fs.readFileSync(file, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        files[name] = "absent"
        continue
      }
      throw error
    }
    try {
      const doc = JSON.parse(text)
      const missing = keys.filter((key) => !(key in doc))
      if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}`)
      files[name] = "valid"
      docs[name] = doc
    } catch (error) {
      files[name] = `half-written or invalid (${(error as Error).message}): ${JSON.stringify(text.slice(0, 80))}`
      corrupt.push(name)
    }
  }
  const temps = fs.readdirSync(home.dir).filter((name) => /^\..*\.tmp$/.test(name))
  return { files, docs, corrupt, temps }
}

const claimsAlive = (state: string | undefined) => state === "starting" || state === "running" || state === "draining"

interface Verdict {
  readonly verdict: "ended_in_order" | "died_without_shutdown" | "first_start_or_unknown"
  readonly pid?: number
  readonly classification?: string
}

/** CONTRACT 5, from the files alone: what the next life must conclude. */
const verdictFromDisk = (disk: DiskView): Verdict => {
  const clean = disk.docs[".clean_shutdown"]
  if (clean !== undefined) return { verdict: "ended_in_order", pid: clean.pid, classification: clean.classification }
  const state = disk.docs["gateway_state.json"]
  if (state !== undefined && claimsAlive(state.gateway_state)) return { verdict: "died_without_shutdown", pid: state.pid }
  return { verdict: "first_start_or_unknown" }
}

const logLineOf = (v: Verdict): RegExp =>
  v.verdict === "ended_in_order"
    ? new RegExp(`previous life \\(pid ${v.pid}\\) shut down cleanly`)
    : v.verdict === "died_without_shutdown"
    ? new RegExp(`previous life \\(pid ${v.pid}\\) died without shutting down`)
    : /no previous life recorded/

// --- the matrix, printed at the end ------------------------------------------------------------

const rows: Array<string> = []
afterAll(() => {
  if (rows.length > 0) console.log(`crash matrix (${rows.length} cases):\n${[...rows].sort().join("\n")}`)
})

/**
 * After the SIGKILL: the files, `status`, the next life's start and verdict, and a clean stop.
 * `expected` is what the moment implies on disk; it must agree with what the files say.
 */
const recover = async (
  ctx: TestContext,
  lab: Lab,
  home: Home,
  killed: Gateway,
  moment: string,
  expected?: Verdict
) => {
  const { expect } = ctx
  const disk = inspectHome(home)
  expect(disk.corrupt, JSON.stringify(disk.files, null, 2)).toEqual([])
  const fromDisk = verdictFromDisk(disk)
  if (expected !== undefined) expect(fromDisk, `files after the kill: ${JSON.stringify(disk.files)}`).toMatchObject(expected)

  // LSB status agrees with the files: a state claiming a live process whose process is gone → 1.
  const status = await lab.sb.cli(["gateway", "status", "--home", home.dir])
  const stateName = disk.docs["gateway_state.json"]?.gateway_state as string | undefined
  expect(status.code, `${status.stdout}${status.stderr}`).toBe(claimsAlive(stateName) ? 1 : 3)

  const t0 = Date.now()
  const next = lab.run(home, { label: `next life after ${killed.pid} was killed at ${moment}` })
  await next.waitRunning(30_000)
  const startMs = Date.now() - t0
  const start = home.lifecycle().filter((r) => r.event === "start" && r.pid === next.pid).at(-1)
  expect(start, next.describe()).toBeDefined()
  expect(start!.previous_life, next.describe()).toMatchObject(fromDisk)
  expect(next.stderr).toMatch(logLineOf(fromDisk))
  if (fromDisk.verdict === "ended_in_order") expect(fs.existsSync(home.cleanShutdown)).toBe(false) // consumed
  expect(next.stderr).not.toMatch(/internal error|defect/i)

  const stop = await lab.sb.cli(["gateway", "stop", "--home", home.dir])
  expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
  expect(await next.waitExit(), next.describe()).toEqual({ code: 0, signal: null })
  const after = inspectHome(home)
  expect(after.corrupt, JSON.stringify(after.files)).toEqual([])
  expect(after.docs["gateway_state.json"]).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", pid: next.pid })
  expect(after.files["gateway.pid"]).toBe("absent")

  rows.push(
    `${moment.padEnd(58)} killed ${stateName ?? "-"}/${disk.files[".clean_shutdown"]} → ${fromDisk.verdict}` +
      `${fromDisk.classification !== undefined ? `(${fromDisk.classification})` : ""}; status ${status.code}; ` +
      `next running in ${startMs}ms; stop 0` +
      (disk.temps.length > 0 ? `; temp left: ${disk.temps.join(",")} (still there after the next life: ${after.temps.length})` : "")
  )
  return { disk, fromDisk, next }
}

/** A synthetic earlier life that died while running (no .clean_shutdown): pid 2147480 never runs here. */
const seedDeadLife = (home: Home): number => {
  const pid = 2_147_480
  fs.writeFileSync(home.state, JSON.stringify({
    gateway_state: "running",
    desired_state: "running",
    pid,
    start_time: "12345",
    updated_at: new Date(Date.now() - 60_000).toISOString(),
    exit_code: null,
    exit_reason: null,
    restart_requested: false,
    active_turns: 0,
    platforms: {},
    supervisor: null,
    shutdown: null
  }), { mode: 0o600 })
  return pid
}

type StopHow = "SIGTERM (unplanned)" | "marker + SIGTERM (planned)"
const roundsOfStop: ReadonlyArray<StopHow> = ["SIGTERM (unplanned)", "marker + SIGTERM (planned)"]

const askToStop = (home: Home, gw: Gateway, how: StopHow) => {
  if (how === "marker + SIGTERM (planned)") {
    writeMarker(home, { target_pid: gw.pid, target_start_time: startTimeOf(home), action: "stop" })
  }
  gw.signal("SIGTERM")
}

describe.concurrent("crash matrix: SIGKILL in each shutdown phase", () => {
  for (const phase of shutdownOrder) {
    for (const how of roundsOfStop) {
      it(`${phase}, after ${how}, with a turn in flight`, async (ctx) => {
        const { expect } = ctx
        const lab = new Lab(ctx)
        // The turn is held by the model until the drain has begun (for a pause after the drain),
        // so it is in flight at every phase up to the drain, and drained (not cut by a deadline) after.
        const model = await FakeModel.start(ctx)
        model.holdAll()
        const home = lab.sb.home(modelConfig(model))
        const gw = lab.run(home, { pauseAt: phase })
        const port = await gw.waitRunning()
        await heldTurn(gw, model, port, "in flight") // its reply dies with the gateway
        askToStop(home, gw, how)
        if (shutdownOrder.indexOf(phase) > shutdownOrder.indexOf("drain")) {
          await gw.waitLog("draining 1 turn(s)", 20_000)
          model.releaseAll()
        }
        await waitPaused(gw, phase)
        await kill9(gw, expect)
        model.releaseAll()

        // The phase is announced before its work: at clean_shutdown_marker nothing is written yet.
        const markerWritten = phase !== "clean_shutdown_marker"
        const disk = inspectHome(home)
        expect(disk.docs["gateway_state.json"]?.gateway_state).toBe(markerWritten ? "draining" : "running")
        expect(disk.files[".gateway-planned-stop.json"], "the marker is consumed when evaluated").toBe("absent")
        expect(disk.files["gateway.pid"]).toBe("valid")
        await recover(ctx, lab, home, gw, `phase ${phase} / ${how}`, markerWritten
          ? { verdict: "ended_in_order", pid: gw.pid, classification: how.endsWith("(planned)") ? "planned" : "unplanned" }
          : { verdict: "died_without_shutdown", pid: gw.pid })
      })
    }
  }
})

interface StartupMoment {
  readonly at: string
  readonly what: string
  /** This life's first gateway_state.json (starting) is on disk when it is killed. */
  readonly stateWritten: boolean
}

const startupMoments: ReadonlyArray<StartupMoment> = [
  { at: "lock:before", what: "before the lock", stateWritten: false },
  { at: "lock:after", what: "lock held, before gateway.pid", stateWritten: false },
  { at: "write:gateway.pid:1", what: "gateway.pid temp file half-written", stateWritten: false },
  { at: "rename:gateway.pid:1:after", what: "gateway.pid written, no state yet", stateWritten: false },
  { at: "write:gateway_state.json:1", what: "first state (starting) half-written", stateWritten: false },
  { at: "rename:gateway_state.json:3:before", what: "adapters up, state=running not renamed yet", stateWritten: true }
]

describe.concurrent("crash matrix: SIGKILL during start-up", () => {
  for (const moment of startupMoments) {
    for (const round of ["fresh home", "home whose last life died"] as const) {
      it(`${moment.at} (${moment.what}), ${round}`, async (ctx) => {
        const { expect } = ctx
        const lab = new Lab(ctx)
        const home = lab.sb.home()
        const seeded = round === "fresh home" ? undefined : seedDeadLife(home)
        const gw = lab.run(home, { pauseAt: moment.at })
        await waitPaused(gw, moment.at)
        await kill9(gw, expect)
        expect(gw.stderr).not.toContain("gateway running")
        const expected: Verdict = moment.stateWritten
          ? { verdict: "died_without_shutdown", pid: gw.pid }
          : seeded !== undefined
          ? { verdict: "died_without_shutdown", pid: seeded }
          : { verdict: "first_start_or_unknown" }
        await recover(ctx, lab, home, gw, `start-up ${moment.at} / ${round}`, expected)
      })
    }
  }
})

interface ShutdownWriteMoment {
  readonly at: string
  readonly what: string
  /** .clean_shutdown is complete on disk when it is killed. */
  readonly cleanWritten: boolean
}

// Index 5 of gateway_state.json is the final state: 1 starting, 2 platforms, 3 running, 4 draining
// (no turns, so no active_turns updates in between).
const shutdownWrites: ReadonlyArray<ShutdownWriteMoment> = [
  { at: "write:.clean_shutdown:1", what: ".clean_shutdown temp half-written", cleanWritten: false },
  { at: "write:gateway_state.json:5", what: "final state half-written", cleanWritten: true },
  { at: "rename:gateway_state.json:5:after", what: "final state written, gateway.pid not removed", cleanWritten: true }
]

describe.concurrent("crash matrix: SIGKILL in the middle of a shutdown write", () => {
  for (const moment of shutdownWrites) {
    for (const how of roundsOfStop) {
      it(`${moment.at} (${moment.what}), after ${how}`, async (ctx) => {
        const { expect } = ctx
        const lab = new Lab(ctx)
        const home = lab.sb.home()
        const gw = lab.run(home, { pauseAt: moment.at })
        await gw.waitRunning()
        askToStop(home, gw, how)
        await waitPaused(gw, moment.at)
        await kill9(gw, expect)
        const planned = how.endsWith("(planned)")
        await recover(ctx, lab, home, gw, `shutdown write ${moment.at} / ${how}`, moment.cleanWritten
          ? { verdict: "ended_in_order", pid: gw.pid, classification: planned ? "planned" : "unplanned" }
          : { verdict: "died_without_shutdown", pid: gw.pid })
      })
    }
  }
})

describe.concurrent("crash matrix: a stopper killed while writing its marker", () => {
  const moments = [
    { at: "write:.gateway-planned-stop.json:1", what: "marker temp half-written" },
    { at: "rename:.gateway-planned-stop.json:1:after", what: "marker written, no signal sent" }
  ]
  for (const moment of moments) {
    for (const round of [1, 2]) {
      it(`${moment.at} (${moment.what}), round ${round}`, async (ctx) => {
        const { expect } = ctx
        const lab = new Lab(ctx)
        const home = lab.sb.home()
        const gw = lab.run(home, { label: "gateway" })
        const port = await gw.waitRunning()
        const stopper = lab.cliPaused(["gateway", "stop", "--home", home.dir], moment.at)
        await waitFor(`the stopper to pause at ${moment.at}`, () => stopper.output().includes(`PAUSED ${moment.at}`), {
          timeoutMs: 30_000,
          context: stopper.output
        })
        stopper.child.kill("SIGKILL")
        await stopper.closed

        const disk = inspectHome(home)
        expect(disk.corrupt, JSON.stringify(disk.files)).toEqual([])
        expect(disk.files[".gateway-planned-stop.json"]).toBe(moment.at.startsWith("write:") ? "absent" : "valid")
        // The gateway never saw a signal: it runs on, untouched. The stopper is dead, so no signal
        // can come later, and readiness would be false from the first step of a stop on.
        expect(await readyz(port)).toBe(200)
        expect(gw.alive).toBe(true)
        expect(home.readState()).toMatchObject({ gateway_state: "running", pid: gw.pid })
        expect(gw.stderr).not.toContain("shutdown context")

        const stop = await lab.sb.cli(["gateway", "stop", "--home", home.dir])
        expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
        expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
        const after = inspectHome(home)
        expect(after.corrupt).toEqual([])
        expect(after.files[".gateway-planned-stop.json"]).toBe("absent")
        expect(after.docs["gateway_state.json"]).toMatchObject({ gateway_state: "stopped", desired_state: "stopped" })
        rows.push(
          `${`stopper ${moment.at} / round ${round}`.padEnd(58)} gateway untouched; next stop 0` +
            (disk.temps.length > 0 ? `; temp left: ${disk.temps.join(",")}` : "")
        )
      })
    }
  }
})

/** Keeps `workers` requests going until stopped; counts the answers (so far: `answered()`). */
const load = (port: number, workers: number) => {
  let running = true
  let answered = 0
  const loops = Array.from({ length: workers }, async (_, i) => {
    let n = 0
    while (running) {
      try {
        const result = await chat(port, `load ${i}.${n++}`, 5_000)
        if (result.status === 200) answered++
      } catch {
        await sleep(20) // a retry interval: connection refused / reset once it is gone
      }
    }
  })
  return {
    answered: () => answered,
    stop: async () => {
      running = false
      await Promise.all(loops)
      return answered
    }
  }
}

describe.concurrent("crash matrix: SIGKILL at a random moment under load", () => {
  for (const round of [1, 2]) {
    it(`while running with requests in flight, round ${round}`, async (ctx) => {
      const { expect } = ctx
      const lab = new Lab(ctx)
      const home = lab.sb.home(defaultConfig({ delay: "150ms" }))
      const gw = lab.run(home)
      const port = await gw.waitRunning()
      const traffic = load(port, 4)
      await waitFor("the first answers under load", () => traffic.answered() > 0, { timeoutMs: 30_000, context: () => gw.describe() })
      // The thing under test: a SIGKILL at a random moment of a loaded life.
      const delay = Math.floor(Math.random() * 1300)
      await sleep(delay)
      await kill9(gw, expect)
      const answered = await traffic.stop()
      const { fromDisk } = await recover(ctx, lab, home, gw, `random: running +${delay}ms, ${answered} answered / round ${round}`, {
        verdict: "died_without_shutdown",
        pid: gw.pid
      })
      expect(fromDisk.verdict).toBe("died_without_shutdown")
    })

    it(`during the shutdown of a loaded gateway, round ${round}`, async (ctx) => {
      const { expect } = ctx
      const lab = new Lab(ctx)
      const home = lab.sb.home(defaultConfig({ delay: "150ms" }))
      const gw = lab.run(home)
      const port = await gw.waitRunning()
      const traffic = load(port, 4)
      await waitFor("the first answers under load", () => traffic.answered() > 0, { timeoutMs: 30_000, context: () => gw.describe() })
      // Counted from the `shutdown context` line (phase 0 done), so that the kill lands anywhere
      // from the marker write to the exit; the turns in flight (150ms each) make the drain last.
      const delay = Math.floor(Math.random() * 250)
      gw.signal("SIGTERM")
      await gw.waitLog("shutdown context")
      await sleep(delay) // the thing under test: a SIGKILL at a random moment of the shutdown
      if (gw.alive) gw.signal("SIGKILL")
      // Either killed, or it finished its (unplanned) shutdown just before the kill: exit 1.
      const exit = await gw.waitExit(30_000)
      expect(exit.signal === "SIGKILL" || exit.code === 1, JSON.stringify(exit)).toBe(true)
      const answered = await traffic.stop()
      const phases = [...gw.stderr.matchAll(/shutdown phase=(\w+)/g)].map((m) => m[1])
      await recover(
        ctx,
        lab,
        home,
        gw,
        `random: SIGTERM, shutdown context +${delay}ms (after ${phases.at(-1) ?? "no phase"}), ${answered} answered / round ${round}`
      )
    })
  }
})
