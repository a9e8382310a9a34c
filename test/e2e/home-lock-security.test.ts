// End-to-end: the home lock and control channel against another local user (Security 1, 2, 4;
// Lifecycle 3). The attacker is user nobody (uid 65534) running test/e2e/fixtures/lock-attacker.mjs;
// the gateway and the stoppers run as root, as in the report. A root `sleep 1000` plays the
// victim a squatter or a forged gateway.pid points at: it must survive every command.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, it, type TestContext } from "vitest"
import * as Option from "effect/Option"
import { tryLockFileSync } from "../../src/home/FileLock.js"
import { readStartTime } from "../../src/home/ProcessIdentity.js"
import { assertBuilt, chat, type Home, homeAt, Sandbox, waitFor } from "./harness.js"
import { makeReadableInstall, type ReadableInstall } from "./ReadableInstall.js"

// nobody runs the attacker, the CLI and a gateway of its own from a copy it can read.
let nobodys: ReadableInstall
beforeAll(() => {
  assertBuilt()
  nobodys = makeReadableInstall(["lock-attacker.mjs"])
})
afterAll(() => nobodys?.remove())
const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const canDropToNobody = isRoot && process.platform === "linux" &&
  spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, "-e", ""]).status === 0

/** Processes a test starts itself (victims, attackers): SIGKILLed when the test ends. */
class Extras {
  private readonly children: Array<ChildProcess> = []
  constructor(ctx: TestContext) {
    ctx.onTestFinished(() => {
      for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
  }

  /** A root `sleep 1000` and its real start time. */
  async victim(): Promise<{ pid: number; startTime: string; alive: () => boolean }> {
    const child = spawn("sleep", ["1000"], { stdio: "ignore" })
    this.children.push(child)
    const pid = child.pid!
    await waitFor("sleep to exec", () => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep"))
    const startTime = readStartTime(pid)!
    return { pid, startTime, alive: () => child.exitCode === null && child.signalCode === null && readStartTime(pid) === startTime }
  }

  /** Runs the attacker as nobody; resolves with its JSON report line (the process may stay alive). */
  attacker(args: ReadonlyArray<string>): Promise<Record<string, any>> {
    const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, nobodys.fixture("lock-attacker.mjs"), ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    this.children.push(child)
    let out = ""
    let err = ""
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
    return new Promise((resolve, reject) => {
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
        if (out.includes("\n")) resolve(JSON.parse(out.slice(0, out.indexOf("\n"))))
      })
      child.once("exit", (code) => reject(new Error(`attacker exited ${code} before reporting: ${err}`)))
    })
  }

  /** A zombie: the child of a perl that never reaps it. */
  async zombie(): Promise<{ pid: number; startTime: string }> {
    const script = "$| = 1; my $child = fork(); exit 0 if $child == 0; print \"$child\\n\"; sleep 1000"
    const child = spawn("perl", ["-e", script], { stdio: ["ignore", "pipe", "inherit"] })
    this.children.push(child)
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    const pid = await waitFor("the zombie's pid", () => (out.includes("\n") ? Number(out.trim()) : undefined))
    const stat = await waitFor("the zombie", () => {
      const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      return text.includes(") Z ") ? text : undefined
    })
    return { pid, startTime: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]! }
  }
}

const forgePidFile = (home: Home, pid: number, startTime: string) =>
  fs.writeFileSync(home.pidFile, JSON.stringify({ pid, start_time: startTime, argv: [], home: home.dir, started_at: new Date().toISOString() }), {
    mode: 0o600
  })

const output = (r: { stdout: string; stderr: string }) => `${r.stdout}${r.stderr}`

const asRootWithNobody = canDropToNobody ? describe.concurrent : describe.skip
const onLinux = process.platform === "linux" ? describe.concurrent : describe.skip

asRootWithNobody("another local user against a root gateway's home", () => {
  it("cannot read the session list or a transcript, nor reactivate a session, of a live gateway", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const extras = new Extras(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const reply = await chat(port, "a private message")
    expect(reply.status).toBe(200)
    const sessionId = reply.headers.get("x-hermes-session")!
    const own = await sb.cli(["gateway", "sessions", "--home", home.dir])
    expect(own.stdout, "the owner still reads it").toContain(sessionId)

    const report = await extras.attacker(["probe", home.dir, sessionId])
    expect(report.uid).toBe(65534)
    expect(report.attempts.length).toBeGreaterThan(0)
    for (const attempt of report.attempts) expect(attempt, JSON.stringify(attempt)).not.toHaveProperty("answered")
    expect(JSON.stringify(report)).not.toContain("a private message")
    expect(report.listed.filter((name: string) => name.startsWith("@")), "no abstract socket of this home to find").toEqual([])
    expect(report.listed, "its control socket is a file in the home").toContain(path.join(home.dir, "gateway.sock"))

    // The CLI as nobody gets nothing either.
    for (const args of [["sessions"], ["sessions", "show", sessionId], ["sessions", "reactivate", sessionId], ["sessions", "prune", "--older-than", "1d"]]) {
      const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, nobodys.hermesJs, "gateway", ...args, "--home", home.dir], {
        encoding: "utf8"
      })
      expect(r.status, `${args.join(" ")}: ${r.stdout}${r.stderr}`).not.toBe(0)
      expect(r.stdout).not.toContain(sessionId)
      expect(r.stdout).not.toContain("a private message")
    }
    expect(gw.alive).toBe(true)
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
  })

  it("a squatter on every name it can take neither blocks start-up nor gets a stranger named or signalled", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const extras = new Extras(ctx)
    const home = sb.home()
    const victim = await extras.victim()
    const squat = await extras.attacker(["squat", home.dir, String(victim.pid), victim.startTime])
    expect(squat.uid).toBe(65534)
    // Nothing inside the 0700 home is reachable for nobody; the old abstract name is.
    expect(squat.denied, JSON.stringify(squat)).toHaveLength(4)
    expect(squat.denied.every((d: string) => d.endsWith("EACCES"))).toBe(true)
    expect(squat.squatting.some((s: string) => s.startsWith("@hermes-gateway/"))).toBe(true)

    // No gateway runs: nothing a stopper does may reach the victim.
    for (const args of [["stop"], ["stop", "--force", "--timeout", "2s"], ["restart", "--timeout", "2s"]]) {
      const r = await sb.cli(["gateway", ...args, "--home", home.dir])
      expect(output(r), args.join(" ")).toMatch(/not running/)
      expect(output(r)).not.toContain(`pid ${victim.pid}`)
      expect(victim.alive(), `${args.join(" ")} left the victim alone`).toBe(true)
    }

    const gw = sb.run(home)
    await gw.waitRunning()
    expect(gw.stderr).not.toContain(String(victim.pid))
    const status = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(status.code, output(status)).toBe(0)
    expect(status.stdout).toContain(`pid ${gw.pid}`)
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, output(stop)).toBe(0)
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
    expect(victim.alive()).toBe(true)
  })

  it("a forged gateway.pid naming a live stranger with its real start time gets nothing signalled", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const extras = new Extras(ctx)
    const home = sb.home()
    const victim = await extras.victim()
    forgePidFile(home, victim.pid, victim.startTime)

    for (const args of [["stop"], ["stop", "--force", "--timeout", "2s"], ["restart", "--timeout", "2s"]]) {
      const r = await sb.cli(["gateway", ...args, "--home", home.dir])
      expect(output(r), args.join(" ")).toMatch(/not running/)
      expect(output(r)).toMatch(/not a hermes gateway/)
      expect(output(r)).toMatch(/no gateway holds the home/)
      expect(victim.alive(), `${args.join(" ")} left the victim alone`).toBe(true)
    }
    const status = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(status.code, output(status)).toBe(3)

    // A real gateway runs, and gateway.pid is forged under it: the gateway is found by its own
    // hello on the control socket, stopped in order, and the victim is untouched.
    const gw = sb.run(home)
    await gw.waitRunning()
    forgePidFile(home, victim.pid, victim.startTime)
    const stop = await sb.cli(["gateway", "stop", "--force", "--home", home.dir])
    expect(stop.code, output(stop)).toBe(0)
    expect(stop.stdout).toContain(`pid ${gw.pid}`)
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
    expect(victim.alive()).toBe(true)
  })
})

onLinux("a zombie is dead", () => {
  it("status says not running, stop returns at once, --mark-only writes no marker", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const extras = new Extras(ctx)
    const home = sb.home()
    const zombie = await extras.zombie()
    forgePidFile(home, zombie.pid, zombie.startTime)

    // No state file: plainly not running (3).
    const fresh = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(fresh.code, output(fresh)).toBe(3)
    expect(fresh.stdout).toMatch(/zombie/)
    // The state file still says running: dead but recorded (1, LSB).
    fs.writeFileSync(home.state, JSON.stringify({
      gateway_state: "running",
      desired_state: "running",
      pid: zombie.pid,
      start_time: zombie.startTime,
      updated_at: new Date().toISOString(),
      exit_code: null,
      exit_reason: null,
      restart_requested: false,
      active_turns: 0,
      platforms: {},
      supervisor: null,
      shutdown: null
    }), { mode: 0o600 })
    const recorded = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(recorded.code, output(recorded)).toBe(1)

    // A stop that waited for the zombie would take its whole minute and then fail.
    const stop = await sb.cli(["gateway", "stop", "--timeout", "60s", "--home", home.dir], {}, 20_000)
    expect(stop.code, output(stop)).toBe(0)
    expect(stop.stdout).toMatch(/not running/)

    const mark = await sb.cli(["gateway", "stop", "--mark-only", `--pid=${zombie.pid}`, "--home", home.dir])
    expect(mark.code, output(mark)).toBe(0)
    expect(fs.existsSync(home.plannedStop), output(mark)).toBe(false)
  })
})

onLinux("the lock and the control socket across lives", () => {
  it("a SIGKILLed gateway's stale socket never blocks the next start, which serves `sessions` again", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const first = sb.run(home, {}, "first gateway")
    await first.waitRunning()
    first.signal("SIGKILL")
    await first.waitExit()
    expect(fs.lstatSync(path.join(home.dir, "gateway.sock")).isSocket(), "the killed life left its socket file").toBe(true)

    const second = sb.run(home, {}, "second gateway")
    const port = await second.waitRunning()
    const reply = await chat(port, "after the crash")
    const sessions = await sb.cli(["gateway", "sessions", "--home", home.dir])
    expect(sessions.code, output(sessions)).toBe(0)
    expect(sessions.stdout).toContain(reply.headers.get("x-hermes-session")!)
    second.signal("SIGINT")
    expect(await second.waitExit()).toEqual({ code: 0, signal: null })
    expect(fs.existsSync(path.join(home.dir, "gateway.sock")), "an orderly stop removes it").toBe(false)
  })

  it("a start waits while another command holds the lock for a moment, and names a starting holder when it does not let go", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const lockFile = path.join(home.dir, "gateway.lock")
    // Another command holding the lock (taken here, through the same helper the CLI uses).
    const held = tryLockFileSync(lockFile)
    if (Option.isNone(held)) throw new Error("the lock file is already held")
    let release = () => fs.closeSync(held.value.fd)
    ctx.onTestFinished(() => release())

    const blocked = sb.run(home, {}, "blocked gateway")
    expect(await blocked.waitExit(), blocked.describe()).toEqual({ code: 69, signal: null })
    expect(blocked.stderr).toMatch(/held by a gateway that is starting/)

    const waiting = sb.run(home, {}, "waiting gateway")
    // It is retrying once it has the lock file open; then the holder lets go.
    await waitFor("the start to try the lock", () => {
      try {
        const target = fs.statSync(lockFile)
        return fs.readdirSync(`/proc/${waiting.pid}/fd`).some((fd) => {
          try {
            return fs.statSync(`/proc/${waiting.pid}/fd/${fd}`).ino === target.ino
          } catch {
            return false
          }
        })
      } catch {
        return false
      }
    }, { context: () => waiting.describe() })
    release()
    release = () => {}
    await waiting.waitRunning()
    waiting.signal("SIGINT")
    expect(await waiting.waitExit()).toEqual({ code: 0, signal: null })
  })

  it("a home whose socket path is longer than sun_path runs, answers and stops", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const base = sb.home("")
    const dir = path.join(base.dir, "x".repeat(60), "y".repeat(40))
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    expect(Buffer.byteLength(path.join(dir, "gateway.sock"))).toBeGreaterThan(108)
    const home = homeAt(dir)
    fs.writeFileSync(home.config, "adapters:\n  http:\n    port: 0\n")
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const reply = await chat(port, "long home")
    const sessions = await sb.cli(["gateway", "sessions", "--home", dir])
    expect(sessions.code, output(sessions)).toBe(0)
    expect(sessions.stdout).toContain(reply.headers.get("x-hermes-session")!)
    const stop = await sb.cli(["gateway", "stop", "--home", dir])
    expect(stop.code, output(stop)).toBe(0)
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
  })
  it("a symbolic link planted as gateway.lock: run exits 78 naming it, doctor fails naming it, the target is untouched", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const target = path.join(home.dir, "elsewhere")
    fs.writeFileSync(target, "keep\n")
    fs.symlinkSync(target, path.join(home.dir, "gateway.lock"))
    const gw = sb.run(home)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toMatch(/gateway\.lock: it is a symbolic link/)
    const doctor = await sb.cli(["gateway", "doctor", "--home", home.dir])
    expect(doctor.code, output(doctor)).toBe(1)
    expect(doctor.stdout).toMatch(/FAIL\s+gateway\.lock\s+is not a regular file/)
    expect(fs.readFileSync(target, "utf8")).toBe("keep\n")
  })
  it.skipIf(!canDropToNobody)("root reading another user's home leaves gateway.lock to that user, whose gateway then starts", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    fs.chownSync(home.dir, 65534, 65534)
    fs.chownSync(home.config, 65534, 65534)
    const sessions = await sb.cli(["gateway", "sessions", "--home", home.dir])
    expect(sessions.code, output(sessions)).toBe(0)
    const lock = fs.statSync(path.join(home.dir, "gateway.lock"))
    expect({ uid: lock.uid, gid: lock.gid, mode: lock.mode & 0o777 }).toEqual({ uid: 65534, gid: 65534, mode: 0o600 })
    // The owner's own gateway can take it.
    const gw = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, nobodys.hermesJs, "gateway", "run", "--home", home.dir], {
      stdio: ["ignore", "ignore", "pipe"]
    })
    ctx.onTestFinished(() => void gw.kill("SIGKILL"))
    let stderr = ""
    gw.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    await waitFor("the owner's gateway running", () => home.readState()?.gateway_state === "running", { context: () => stderr })
    gw.kill("SIGINT")
    const code = await new Promise((resolve) => gw.once("exit", resolve))
    expect(code, stderr).toBe(0)
  })
})
