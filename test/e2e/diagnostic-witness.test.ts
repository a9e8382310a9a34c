// The diagnostic witness: the shell a running gateway starts ahead of its stop, so phase 0 writes a
// line to a pipe instead of forking itself. It must leave the same record the forked child left,
// survive the signals a supervisor sends a whole service, and never outlive a gateway that died.
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { isAlive as alive } from "../../src/home/ProcessIdentity.js"
import { assertBuilt, Sandbox, waitFor } from "./harness.js"

const fixture = fileURLToPath(new URL("./fixtures/diagnostic-witness.ts", import.meta.url))

interface Spawner {
  readonly child: ChildProcess
  /** Sends one command and resolves with the JSON line it answers. */
  readonly ask: (command: string) => Promise<any>
  readonly exited: Promise<number | null>
}

const startSpawner = (log: string, env: NodeJS.ProcessEnv = process.env): Spawner => {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, log], { stdio: ["pipe", "pipe", "inherit"], env })
  const answers: Array<(value: any) => void> = []
  let buffer = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk
    let end: number
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 1)
      answers.shift()?.(JSON.parse(line))
    }
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    child,
    exited,
    ask: (command) =>
      new Promise((resolve) => {
        answers.push(resolve)
        child.stdin!.write(command + "\n")
      })
  }
}


/** The signals a process ignores, from the kernel's own account of it. */
const ignoredSignals = (pid: number): bigint => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)$/m.exec(status)![1]}`)
}
const bit = (signo: number): bigint => 1n << BigInt(signo - 1)

/** A scratch directory and a way to start spawners in it; both are gone when the test ends, however it ends. */
const withDir = async (body: (dir: string, spawn: typeof startSpawner) => Promise<void>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-witness-"))
  const spawned: Array<Spawner> = []
  try {
    await body(dir, (log, env) => {
      const spawner = startSpawner(log, env)
      spawned.push(spawner)
      return spawner
    })
  } finally {
    for (const spawner of spawned) spawner.child.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const readLog = (log: string): string => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "")

/** The log once it holds `text`; the log so far when it never does. */
const logOnce = (log: string, what: string, text: string): Promise<string> =>
  waitFor(what, () => {
    const content = readLog(log)
    return content.includes(text) && content
  }, { timeoutMs: 20_000, context: () => readLog(log) })

const diagnosticEnded = (log: string, pid: number) => logOnce(log, "the end of the diagnostic", `=== end of shutdown diagnostic pid=${pid}`)

describe("diagnostic witness", () => {
  it("writes the stop's diagnostic when triggered, finishes it after its gateway has exited, and holds none of its secrets", () =>
    withDir(async (dir, spawn) => {
      const log = path.join(dir, "logs", "shutdown-diag.log")
      const spawner = spawn(log, { ...process.env, TELEGRAM_BOT_TOKEN: "123:witness-must-not-hold-this" })
      const { witness } = await spawner.ask("pid")
      expect(witness).toBeTypeOf("number")
      // It lives as long as the gateway: it gets PATH, not the gateway's tokens and keys.
      const environ = fs.readFileSync(`/proc/${witness}/environ`, "utf8").split("\0")
      expect(environ).toContain(`PATH=${process.env.PATH}`)
      expect(environ.join("\n")).not.toContain("witness-must-not-hold-this")
      // Its own session: a Ctrl+C at the gateway's terminal or a kill of its process group misses it.
      const stat = fs.readFileSync(`/proc/${witness}/stat`, "utf8")
      expect(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3])).toBe(witness)
      expect(await spawner.ask("trigger")).toEqual({ _tag: "Spawned", childPid: witness })
      spawner.child.stdin!.write("exit\n")
      expect(await spawner.exited).toBe(0)
      const content = await diagnosticEnded(log, spawner.child.pid!)
      expect(content).toMatch(new RegExp(`\\n=== shutdown diagnostic at=\\S+ pid=${spawner.child.pid} signal=SIGTERM classification=unplanned\\n`))
      expect(content.match(/^=== shutdown diagnostic /gm)).toHaveLength(1)
      expect(content).toContain("--- ps (all processes, forest)")
      expect(content).toContain(`--- pstree -aps ${spawner.child.pid}`)
      expect(content).toContain("--- dmesg | tail -n 50")
      expect(fs.statSync(log).mode & 0o777).toBe(0o600)
      await waitFor("the witness to end", () => !alive(witness), { timeoutMs: 20_000 })
    }), 60_000)

  it("ends without a word when its gateway ends without a stop (SIGKILL, a crash)", () =>
    withDir(async (dir, spawn) => {
      const log = path.join(dir, "shutdown-diag.log")
      const spawner = spawn(log)
      const { witness } = await spawner.ask("pid")
      spawner.child.kill("SIGKILL")
      await spawner.exited
      await waitFor("the witness to end", () => !alive(witness), { timeoutMs: 20_000 })
      expect(readLog(log)).toBe("")
    }), 60_000)

  it("ignores TERM, INT and HUP while it waits, and its work is still cut after 5 s", () =>
    withDir(async (dir, spawn) => {
      const log = path.join(dir, "shutdown-diag.log")
      const bin = path.join(dir, "bin")
      fs.mkdirSync(bin)
      fs.writeFileSync(path.join(bin, "ps"), "#!/bin/sh\necho HANGING PS\nexec sleep 60\n", { mode: 0o755 })
      const spawner = spawn(log, { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` })
      const { witness } = await spawner.ask("pid")
      const waiting = bit(1) | bit(2) | bit(15)
      await waitFor("the witness to ignore HUP, INT and TERM", () => (ignoredSignals(witness) & waiting) === waiting)
      // Ignored signals are dropped when sent: the witness cannot die of these.
      for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.kill(witness, signal)
      expect(await spawner.ask("trigger")).toEqual({ _tag: "Spawned", childPid: witness })
      const content = await logOnce(log, "the hanging tool to be cut", "(diagnostic cut after 5s)")
      expect(content).toContain("HANGING PS")
      expect(content.match(/^=== shutdown diagnostic /gm)).toHaveLength(1)
    }), 60_000)

  it("gone before the stop: the stop forks its own child and the diagnostic is written all the same", () =>
    withDir(async (dir, spawn) => {
      const log = path.join(dir, "shutdown-diag.log")
      const spawner = spawn(log)
      const { witness } = await spawner.ask("pid")
      process.kill(witness, "SIGKILL")
      expect(await spawner.ask("gone")).toEqual({ gone: true })
      const spawned = await spawner.ask("trigger")
      expect(spawned).toMatchObject({ _tag: "Spawned" })
      expect(spawned.childPid).not.toBe(witness)
      const content = await diagnosticEnded(log, spawner.child.pid!)
      expect(content.match(/^=== shutdown diagnostic /gm)).toHaveLength(1)
    }), 60_000)
})

describe("a running gateway's witness", () => {
  it("is started once running, writes the unplanned stop's diagnostic, and ends after it", async (ctx) => {
    assertBuilt()
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    const witness = await waitFor("the gateway's witness", () => {
      for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue
        try {
          const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
          if (ppid === gw.pid && fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("hermes shutdown diagnostic of pid")) return Number(entry)
        } catch {
          // gone while we looked
        }
      }
      return undefined
    }, { context: () => gw.describe() })
    gw.signal("SIGTERM")
    expect(await gw.waitExit()).toEqual({ code: 1, signal: null })
    const log = path.join(home.dir, "logs", "shutdown-diag.log")
    const content = await diagnosticEnded(log, gw.pid)
    expect(content).toMatch(new RegExp(`=== shutdown diagnostic at=\\S+ pid=${gw.pid} signal=SIGTERM classification=unplanned`))
    expect(content.match(/^=== shutdown diagnostic /gm)).toHaveLength(1)
    await waitFor("the witness to end", () => !alive(witness), { timeoutMs: 20_000 })
  }, 90_000)
})
