// End-to-end: hostile files and environments (issue "Shutdown forensics, watchdogs and crash
// safety", item 7; CONTRACT 1, 3.1, 3.2). Each case checks the exit code, a stderr message that
// names the problem, and that nothing was corrupted:
//   - truncated / empty / garbage gateway_state.json, gateway.pid, .clean_shutdown and
//     .gateway-planned-stop.json in the home before `run`;
//   - a planned-stop marker that is a symbolic link;
//   - a home on a read-only file system, owned by another uid, group- or world-writable;
//   - a full disk while the stopper writes its marker and while the gateway shuts down.
// Cases that need mounts or chown say so in their title and are skipped where that is impossible.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ExpectStatic, TestContext } from "vitest"
import { afterAll, beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import {
  assertBuilt,
  chat,
  defaultConfig,
  type Gateway,
  hermesJs,
  type Home,
  homeAt,
  readyz,
  Sandbox,
  sleep,
  startTimeOf,
  waitFor,
  writeMarker
} from "./harness.js"
import { modelConfig } from "./Turns.js"

beforeAll(assertBuilt)

const rows: Array<string> = []
afterAll(() => {
  if (rows.length > 0) console.log(`hostile files and environments (${rows.length} cases):\n${[...rows].sort().join("\n")}`)
})

// --- homes outside os.tmpdir() (on a mount of our own) ----------------------------------------


const run = (command: string, args: ReadonlyArray<string>): void => {
  execFileSync(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 })
}

/** Why mounting a tmpfs is impossible here, or undefined when it works. */
const mountProblem = ((): string | undefined => {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "needs root to mount a tmpfs"
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-mount-probe-"))
  try {
    run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir])
    run("umount", [dir])
    return undefined
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim()
    return `cannot mount a tmpfs: ${stderr !== "" ? stderr : (error as Error).message}`
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})()
const withMount = mountProblem === undefined ? it : it.skip
const mountNote = mountProblem === undefined ? "" : ` [SKIPPED: ${mountProblem}]`

const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const asRoot = isRoot ? it : it.skip
const rootNote = isRoot ? "" : " [SKIPPED: needs root to chown the home to another uid]"

/** A tmpfs of `size` with a home (0700, config.yaml) inside; unmounted in `release`, whatever happened. */
const mountHome = (size: string, config: string) => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-hostile-mnt-"))
  run("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", mountPoint])
  const dir = path.join(mountPoint, "home")
  fs.mkdirSync(dir, { mode: 0o700 })
  const home = homeAt(dir)
  fs.writeFileSync(home.config, config)
  const gateways: Array<Gateway> = []
  return {
    mountPoint,
    home,
    /** Gateways started on this mount, killed before it is unmounted. */
    track: (gw: Gateway) => (gateways.push(gw), gw),
    release: async () => {
      for (const gw of gateways) {
        if (gw.alive) gw.signal("SIGKILL")
        await Promise.race([gw.exited, sleep(30_000)]) // the exit, bounded
      }
      try {
        run("mount", ["-o", "remount,rw", mountPoint])
      } catch {
        // already read-write
      }
      try {
        run("umount", [mountPoint])
      } catch {
        run("umount", ["-l", mountPoint]) // something still holds it: detach now, freed when released
      }
      fs.rmSync(mountPoint, { recursive: true, force: true })
    }
  }
}

/** Writes zeros until the file system says ENOSPC; returns how much it took. */
const fillDisk = (file: string): number => {
  const fd = fs.openSync(file, "w")
  const block = Buffer.alloc(4096)
  let written = 0
  try {
    for (;;) written += fs.writeSync(fd, block)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error
  } finally {
    fs.closeSync(fd)
  }
  return written
}

// --- what is on disk --------------------------------------------------------------------------

const homeFiles = ["gateway_state.json", "gateway.pid", ".clean_shutdown", ".gateway-planned-stop.json"] as const
type HomeFile = (typeof homeFiles)[number]

/** Each of the four files: "absent", "valid" or why not; plus temp files left behind. */
const diskOf = (home: Home) => {
  const files: Record<string, string> = {}
  const corrupt: Array<string> = []
  for (const name of homeFiles) {
    const file = path.join(home.dir, name)
    if (!fs.existsSync(file)) {
      files[name] = "absent"
      continue
    }
    try {
      JSON.parse(fs.readFileSync(file, "utf8"))
      files[name] = "valid"
    } catch (error) {
      files[name] = `invalid: ${(error as Error).message}`
      corrupt.push(name)
    }
  }
  return { files, corrupt, temps: fs.readdirSync(home.dir).filter((name) => /^\..*\.tmp$/.test(name)) }
}

const expectIntact = (expect: ExpectStatic, home: Home) => {
  const disk = diskOf(home)
  expect(disk.corrupt, JSON.stringify(disk.files)).toEqual([])
  expect(disk.temps, "no temp file of an atomic write is left behind").toEqual([])
  return disk
}

// --- 1. unreadable files in the home before `run` ---------------------------------------------

/** A complete, valid document of each file, from which the truncated version is cut. */
const validDocument = (file: HomeFile, home: Home): Record<string, unknown> => {
  const now = new Date().toISOString()
  switch (file) {
    case "gateway_state.json":
      return {
        gateway_state: "running",
        desired_state: "running",
        pid: 2_147_481,
        start_time: "123",
        updated_at: now,
        exit_code: null,
        exit_reason: null,
        restart_requested: false,
        active_turns: 0,
        platforms: {},
        supervisor: null,
        shutdown: null
      }
    case "gateway.pid":
      return { pid: 2_147_481, start_time: "123", argv: ["node", "hermes.js"], home: home.dir, started_at: now }
    case ".clean_shutdown":
      return { pid: 2_147_481, start_time: "123", classification: "planned", written_at: now }
    case ".gateway-planned-stop.json":
      return { target_pid: 2_147_481, target_start_time: "123", action: "stop", stopper_pid: 1, written_at: now }
  }
}

const damages = {
  empty: () => "",
  truncated: (doc: Record<string, unknown>) => {
    const text = JSON.stringify(doc, null, 2)
    return text.slice(0, Math.floor(text.length / 2))
  },
  garbage: () => Buffer.from([0x00, 0xff, 0x13, 0x37, 0x7b, 0x22, 0xfe, 0x00, 0x0a, 0x80, 0x41, 0x7d])
} as const
type Damage = keyof typeof damages

const plant = (home: Home, file: HomeFile, damage: Damage): void => {
  fs.writeFileSync(path.join(home.dir, file), damages[damage](validDocument(file, home)), { mode: 0o600 })
}

/** How the gateway must say that it read `file` and treated it as absent. */
const namesUnreadable = (file: HomeFile) =>
  new RegExp(`${file.replace(/\./g, "\\.")}[^\\n]*(is empty|not valid JSON|unexpected shape|unreadable|cannot read)`)

describe.concurrent("unreadable files in the home", () => {
  for (const file of ["gateway_state.json", "gateway.pid", ".clean_shutdown"] as const) {
    for (const damage of Object.keys(damages) as Array<Damage>) {
      it(`${damage} ${file}: status works, the gateway starts, treats it as absent and stops (0)`, async (ctx) => {
        const { expect } = ctx
        const sb = new Sandbox(ctx)
        const home = sb.home()
        plant(home, file, damage)

        const before = await sb.cli(["gateway", "status", "--home", home.dir])
        expect(before.code, `${before.stdout}${before.stderr}`).toBe(3)
        expect(before.stderr).not.toMatch(/internal error/)
        // status reads the state file and the pid file: it says what is wrong with them.
        if (file !== ".clean_shutdown") expect(before.stdout).toMatch(namesUnreadable(file))

        const gw = sb.run(home)
        await gw.waitRunning()
        expect(gw.stderr).not.toMatch(/internal error|defect/i)
        const start = home.lifecycle().find((r) => r.event === "start" && r.pid === gw.pid)!
        expect(start.previous_life.verdict, "an unreadable file is absent: no previous life to speak of").toBe(
          "first_start_or_unknown"
        )
        if (file !== "gateway.pid") {
          expect(start.previous_life.notes?.join("\n"), JSON.stringify(start)).toMatch(namesUnreadable(file))
        }
        const running = await sb.cli(["gateway", "status", "--home", home.dir])
        expect(running.code, running.stdout).toBe(0)

        const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
        expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
        expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
        const disk = expectIntact(expect, home)
        expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", pid: gw.pid })
        expect(disk.files["gateway.pid"]).toBe("absent")
        rows.push(`${`${damage} ${file}`.padEnd(42)} status 3 → run → running → stop 0; files ${JSON.stringify(disk.files)}`)
      })
    }

    // CONTRACT 1: readers "treat a missing, empty, truncated or malformed file as absent and say so
    // in the log".
    it(`the start-up log names an unreadable ${file}`, async ({ expect }) => {
      const home = homeAt(fs.mkdtempSync(path.join(os.tmpdir(), "hermes-e2e-")))
      try {
        fs.writeFileSync(home.config, defaultConfig())
        plant(home, file, "truncated")
        const child = spawn(process.execPath, [hermesJs, "gateway", "run", "--home", home.dir], {
          stdio: ["ignore", "ignore", "pipe"],
          env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HERMES_") && key !== "NODE_OPTIONS"))
        })
        let stderr = ""
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
        try {
          await waitFor("gateway running", () => stderr.includes("gateway running") || child.exitCode !== null, { timeoutMs: 15_000 })
        } finally {
          child.kill("SIGKILL")
        }
        expect(stderr).toContain("gateway running")
        expect(stderr).toMatch(namesUnreadable(file))
      } finally {
        fs.rmSync(home.dir, { recursive: true, force: true })
      }
    })
  }

  for (const damage of Object.keys(damages) as Array<Damage>) {
    it(`${damage} .gateway-planned-stop.json: the gateway starts; SIGTERM is unplanned (1), the log says unreadable, treated as absent`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const home = sb.home()
      plant(home, ".gateway-planned-stop.json", damage)
      const before = await sb.cli(["gateway", "status", "--home", home.dir])
      expect(before.code, `${before.stdout}${before.stderr}`).toBe(3)

      const gw = sb.run(home)
      await gw.waitRunning()
      gw.signal("SIGTERM")
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
      expect(gw.stderr).toMatch(/marker=\\?"unreadable \([^\n]*\.gateway-planned-stop\.json[^\n]*treated as absent/)
      expect(home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1 })
      expect(home.readState()!.shutdown).toMatchObject({ classification: "unplanned" })
      const disk = expectIntact(expect, home)
      expect(disk.files[".gateway-planned-stop.json"], "an unreadable marker is consumed").toBe("absent")

      // And with a real stopper the next life stops planned (its marker replaces nothing stale).
      plant(home, ".gateway-planned-stop.json", damage)
      const next = sb.run(home, {}, "next gateway")
      await next.waitRunning()
      const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
      expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
      expect(await next.waitExit(), next.describe()).toEqual({ code: 0, signal: null })
      expectIntact(expect, home)
      rows.push(`${`${damage} .gateway-planned-stop.json`.padEnd(42)} SIGTERM → 1 (marker unreadable, treated as absent); with stop → 0`)
    })
  }
})

// --- 2. a planned-stop marker that is a symbolic link ----------------------------------------

describe.concurrent("symbolic-link planned-stop marker", () => {
  it("a symlink to a valid marker for this gateway + SIGTERM: refused, unplanned (1), the target is untouched", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    // A valid marker for exactly this incarnation, kept elsewhere; the home gets only a link to it.
    const elsewhere = sb.home("")
    const target = path.join(elsewhere.dir, "marker.json")
    writeMarker({ ...elsewhere, plannedStop: target }, { target_pid: gw.pid, target_start_time: startTimeOf(home), action: "stop" })
    const targetText = fs.readFileSync(target, "utf8")
    fs.symlinkSync(target, home.plannedStop)

    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 1, signal: null })
    expect(gw.stderr).toMatch(/\.gateway-planned-stop\.json is a symbolic link; refusing to follow it/)
    expect(gw.stderr).toMatch(/classification=unplanned/)
    expect(home.readState()).toMatchObject({ gateway_state: "running", desired_state: "running", exit_code: 1 })
    expect(fs.readFileSync(target, "utf8"), "the link's target is left alone").toBe(targetText)
    expect(fs.existsSync(home.plannedStop) && fs.lstatSync(home.plannedStop).isSymbolicLink(), "the link is consumed").toBe(false)
    expectIntact(expect, home)
    rows.push(`${"symlinked planned-stop marker + SIGTERM".padEnd(42)} exit 1 (symlink refused); target untouched`)
  })

  it("`hermes gateway stop` over a planted symlink marker replaces the link and never writes through it (0)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const elsewhere = sb.home("")
    const victim = path.join(elsewhere.dir, "victim.txt")
    fs.writeFileSync(victim, "do not overwrite\n")
    fs.symlinkSync(victim, home.plannedStop)

    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    expect(fs.readFileSync(victim, "utf8")).toBe("do not overwrite\n")
    expect(fs.existsSync(home.plannedStop)).toBe(false)
    expectIntact(expect, home)
    rows.push(`${"stop over a planted symlink marker".padEnd(42)} exit 0; link target untouched`)
  })
})

// --- 3. homes the gateway must refuse ---------------------------------------------------------

const expectRefused = async (
  ctx: TestContext,
  sb: Sandbox,
  home: Home,
  mention: ReadonlyArray<string | RegExp>,
  label: string
) => {
  const { expect } = ctx
  const listing = () => fs.readdirSync(home.dir).sort()
  const before = listing()
  const gw = sb.run(home)
  const exit = await gw.waitExit()
  expect(exit, gw.describe()).toEqual({ code: 78, signal: null })
  for (const text of mention) {
    if (typeof text === "string") expect(gw.stderr).toContain(text)
    else expect(gw.stderr).toMatch(text)
  }
  expect(gw.stderr).not.toMatch(/internal error/)
  expect(listing(), "nothing written into a refused home").toEqual(before)
  rows.push(`${label.padEnd(42)} exit 78: ${JSON.stringify(gw.stderr.trim().split("\n").at(-1)!.slice(0, 110))}`)
}

describe.concurrent("homes the gateway refuses", () => {
  withMount(`a home on a read-only file system exits 78 naming the home${mountNote}`, async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const mount = mountHome("1m", defaultConfig())
    try {
      // What an earlier life left: it must come out of this unchanged.
      fs.writeFileSync(mount.home.state, JSON.stringify(validDocument("gateway_state.json", mount.home)), { mode: 0o600 })
      const stateText = fs.readFileSync(mount.home.state, "utf8")
      run("mount", ["-o", "remount,ro", mount.mountPoint])
      await expectRefused(ctx, sb, mount.home, [mount.home.dir, /read-only file system/], "read-only home")
      expect(fs.readFileSync(mount.home.state, "utf8")).toBe(stateText)
      // The read-only commands still work there.
      const status = await sb.cli(["gateway", "status", "--home", mount.home.dir])
      expect(status.code, `${status.stdout}${status.stderr}`).toBe(1) // the old state claims a live gateway
      const stop = await sb.cli(["gateway", "stop", "--home", mount.home.dir])
      expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
      expect(stop.stdout).toContain("not running")
    } finally {
      await mount.release()
    }
  })

  asRoot(`a home owned by another uid (65534) exits 78 naming the owner${rootNote}`, async (ctx) => {
    const sb = new Sandbox(ctx)
    const home = sb.home()
    fs.chownSync(home.dir, 65534, 65534)
    await expectRefused(ctx, sb, home, [home.dir, "uid 65534"], "home owned by uid 65534")
    ctx.expect(fs.statSync(home.dir).uid, "the gateway does not take the home over").toBe(65534)
  })

  for (const [mode, word] of [[0o770, "group-writable"], [0o777, "world-writable"], [0o703, "world-writable"]] as const) {
    it(`a ${word} home (mode ${mode.toString(8)}) exits 78 naming the mode`, async (ctx) => {
      const sb = new Sandbox(ctx)
      const home = sb.home()
      fs.chmodSync(home.dir, mode)
      await expectRefused(ctx, sb, home, [home.dir, word, `mode 0${mode.toString(8)}`], `${word} home (${mode.toString(8)})`)
      ctx.expect(fs.statSync(home.dir).mode & 0o777, "the mode is not changed behind the operator's back").toBe(mode)
    })
  }
})

// --- 4. a full disk at shutdown -----------------------------------------------------------------

/** The next life on the same home, once space is back: starts, and stops planned. */
const nextLifeAfterFreeing = async (ctx: TestContext, sb: Sandbox, mount: ReturnType<typeof mountHome>, filler: string) => {
  const { expect } = ctx
  // What the full disk let the dead life leave behind, for the record.
  const left = mount.home.readState()
  const lastShutdown = mount.home.lifecycle().filter((r) => r.event === "shutdown").at(-1)
  const leftBehind = `state file left: ${left?.gateway_state}/${left?.desired_state}` +
    `, lifecycle shutdown record: ${lastShutdown === undefined ? "none" : `exit ${lastShutdown.exit_code}`}`
  fs.rmSync(filler)
  const next = mount.track(sb.run(mount.home, {}, "gateway after freeing space"))
  await next.waitRunning()
  const start = mount.home.lifecycle().find((r) => r.event === "start" && r.pid === next.pid)!
  const stop = await sb.cli(["gateway", "stop", "--home", mount.home.dir])
  expect(stop.code, `${stop.stdout}${stop.stderr}`).toBe(0)
  expect(await next.waitExit(), next.describe()).toEqual({ code: 0, signal: null })
  expectIntact(expect, mount.home)
  return { verdict: `${start.previous_life.verdict as string} (${leftBehind})` }
}

/** The gateway's own shutdown on a full disk: right exit code, bounded, and it says what it could not write. */
const expectShutdownOnFullDisk = async (ctx: TestContext, gw: Gateway, code: number) => {
  const { expect } = ctx
  const t0 = Date.now()
  const exit = await gw.waitExit(20_000)
  expect(exit, gw.describe()).toEqual({ code, signal: null })
  expect(Date.now() - t0, "no hang: well inside the hard deadline").toBeLessThan(10_000)
  expect(gw.stderr).toMatch(/could not write the clean-shutdown marker: [^\n]*\.clean_shutdown[^\n]*ENOSPC/)
  expect(gw.stderr).toMatch(/could not write gateway state: [^\n]*gateway_state\.json[^\n]*ENOSPC/)
  expect(gw.stderr).not.toMatch(/internal error|hard deadline/)
  expect(gw.stderr).toContain(`gateway exiting code=${code}`)
}

describe.concurrent("a full disk at shutdown", () => {
  withMount(`\`hermes gateway stop\` on a full disk, then SIGTERM${mountNote}`, async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const mount = mountHome("1m", defaultConfig())
    try {
      const gw = mount.track(sb.run(mount.home))
      const port = await gw.waitRunning()
      const stateBefore = fs.readFileSync(mount.home.state, "utf8")
      const filler = path.join(mount.home.dir, "filler")
      fillDisk(filler)

      const stop = await sb.cli(["gateway", "stop", "--home", mount.home.dir, "--timeout", "10s"])
      let outcome: string
      if (stop.code !== 0) {
        // The stopper could not announce the stop: it must say so, and must not have signalled.
        expect(stop.stderr).toMatch(/\.gateway-planned-stop\.json[^\n]*(ENOSPC|no space)/)
        // The stopper has exited, so no signal can come later; readiness would be false from the
        // first step of a stop on.
        expect(await readyz(port)).toBe(200)
        expect(gw.alive, "a stop that could not write its marker does not signal").toBe(true)
        expect(gw.stderr).not.toContain("shutdown context")
        expect(fs.readFileSync(mount.home.state, "utf8")).toBe(stateBefore)
        outcome = `stop exit ${stop.code} without signalling (${JSON.stringify(stop.stderr.trim())})`
        gw.signal("SIGTERM")
        await expectShutdownOnFullDisk(ctx, gw, 1)
        outcome += "; then SIGTERM → 1"
      } else {
        // It signalled anyway: then the stop cannot have been planned.
        await expectShutdownOnFullDisk(ctx, gw, 1)
        outcome = "stop signalled without a marker; gateway exit 1 (unplanned)"
      }
      expectIntact(expect, mount.home)
      expect(fs.existsSync(mount.home.pidFile), "gateway.pid is removed even on a full disk").toBe(false)
      const previous = await nextLifeAfterFreeing(ctx, sb, mount, filler)
      rows.push(`${"full disk: stop, then SIGTERM".padEnd(42)} ${outcome}; next life sees ${previous.verdict}`)
    } finally {
      await mount.release()
    }
  })

  withMount(`plain SIGTERM on a full disk with a turn in flight exits 1, never 70, and says what it could not write${mountNote}`, async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    // The model holds the answer until the SIGTERM is sent, so the turn is surely in flight then.
    const model = await FakeModel.start(ctx)
    model.holdAll()
    const mount = mountHome("1m", modelConfig(model))
    try {
      const gw = mount.track(sb.run(mount.home))
      const port = await gw.waitRunning()
      const filler = path.join(mount.home.dir, "filler")
      fillDisk(filler)
      const reply = chat(port, "on a full disk", 60_000)
      // In flight once the model has it; a full disk may also refuse it before (then there is no turn).
      await Promise.race([model.waitForRequest("on a full disk", 30_000), reply.then(() => undefined, () => undefined)])
      gw.signal("SIGTERM")
      model.releaseAll()
      await expectShutdownOnFullDisk(ctx, gw, 1)
      const answer = await reply.catch((error) => ({ status: 0, body: String(error) }))
      expect([200, 502, 503], JSON.stringify(answer.body)).toContain(answer.status)
      expectIntact(expect, mount.home)
      const previous = await nextLifeAfterFreeing(ctx, sb, mount, filler)
      rows.push(
        `${"full disk: SIGTERM, turn in flight".padEnd(42)} exit 1; turn answered ${answer.status}; next life sees ${previous.verdict}`
      )
    } finally {
      await mount.release()
    }
  })

  withMount(`SIGINT on a full disk is still a planned stop (0)${mountNote}`, async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const mount = mountHome("1m", defaultConfig())
    try {
      const gw = mount.track(sb.run(mount.home))
      await gw.waitRunning()
      const filler = path.join(mount.home.dir, "filler")
      fillDisk(filler)
      gw.signal("SIGINT")
      await expectShutdownOnFullDisk(ctx, gw, 0)
      expectIntact(expect, mount.home)
      const previous = await nextLifeAfterFreeing(ctx, sb, mount, filler)
      rows.push(`${"full disk: SIGINT".padEnd(42)} exit 0; next life sees ${previous.verdict}`)
    } finally {
      await mount.release()
    }
  })
})
