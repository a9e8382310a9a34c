// A stopper running as root (`sudo hermes gateway stop`) against a gateway of an unprivileged user
// (CONTRACT 1: the marker is 0600): the marker must end up owned by the home's owner, or the
// gateway cannot read it and the stop looks unplanned. A stopper that can make it neither says so.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, it, type TestContext } from "vitest"
import { assertBuilt, Gateway, type Home, Sandbox } from "./harness.js"
import { makeReadableInstall, type ReadableInstall } from "./ReadableInstall.js"

let readable: ReadableInstall
beforeAll(() => {
  assertBuilt()
  readable = makeReadableInstall()
})
afterAll(() => readable?.remove())

const isRoot = typeof process.geteuid === "function" && process.geteuid() === 0
const nobody = 65534
/** A uid with no process of its own on the machine: the owner of the home the nobody stopper may not write for. */
const otherUser = 4242

const as = (uid: number): ReadonlyArray<string> => [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"]

const environment = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HERMES_") && key !== "NODE_OPTIONS"))

/** The bundle as the unprivileged users of these tests can load it (ReadableInstall.ts). */
const bundleFor = (_ctx: TestContext, _uid: number): string => readable.hermesJs

/** Hands a sandbox home to `uid` (0700), as an operator's `install -d -o USER` would. */
const giveHome = (home: Home, uid: number): void => {
  for (const entry of [home.dir, ...fs.readdirSync(home.dir).map((name) => path.join(home.dir, name))]) {
    fs.chownSync(entry, uid, uid)
  }
  fs.chmodSync(home.dir, 0o700)
}

/** `hermes gateway run` as `uid`, killed when the test ends. */
const runAs = (ctx: TestContext, uid: number, bundle: string, home: Home): Gateway => {
  const child: ChildProcess = spawn("setpriv", [...as(uid), process.execPath, bundle, "gateway", "run", "--home", home.dir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: environment()
  })
  const gateway = new Gateway(child, home, `gateway as uid ${uid}`)
  ctx.onTestFailed(() => void process.stderr.write(`\n[${ctx.task.name}]\n${gateway.describe()}\n`))
  ctx.onTestFinished(() => void (gateway.alive && child.kill("SIGKILL")))
  return gateway
}

/** Another `hermes` command as `uid`, to completion. */
const cliAs = (uid: number, bundle: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("setpriv", [...as(uid), process.execPath, bundle, ...args], { stdio: ["ignore", "pipe", "pipe"], env: environment() })
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

describe.concurrent("a stopper that is not the gateway's user", () => {
  it.skipIf(!isRoot)("root's marker belongs to the home's owner (0600): `stop` as root is a planned stop of nobody's gateway", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    giveHome(home, nobody)
    const gw = runAs(ctx, nobody, bundleFor(ctx, nobody), home)
    await gw.waitRunning()

    // the stop hook's marker, written by root, as the gateway will find it
    const mark = await sb.cli(["gateway", "stop", "--mark-only", `--pid=${gw.pid}`, "--home", home.dir])
    expect(mark.code, mark.stderr).toBe(0)
    const marker = fs.statSync(home.plannedStop)
    expect({ uid: marker.uid, gid: marker.gid, mode: marker.mode & 0o7777 }).toEqual({ uid: nobody, gid: nobody, mode: 0o600 })
    expect(fs.readdirSync(home.dir).filter((name) => name.endsWith(".tmp"))).toEqual([])

    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    expect(home.readState()).toMatchObject({
      gateway_state: "stopped",
      desired_state: "stopped",
      exit_code: 0,
      shutdown: { classification: "planned", signal: "SIGTERM" }
    })
    expect(fs.existsSync(home.plannedStop)).toBe(false) // read and consumed by the gateway
    // every file in the home is still the owner's, so its next start can read and replace them all
    for (const name of fs.readdirSync(home.dir)) expect(fs.statSync(path.join(home.dir, name)).uid, name).toBe(nobody)
  })

  it.skipIf(!isRoot)("an unprivileged stopper that does not own the home says so, exits 1 and signals nothing", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    giveHome(home, otherUser)
    const gw = runAs(ctx, otherUser, bundleFor(ctx, otherUser), home)
    await gw.waitRunning()
    // Loosened only after start-up (the gateway refuses a group- or world-writable home), so that
    // nobody could create a marker there, just not one the gateway's user can read.
    fs.chmodSync(home.dir, 0o733)

    const stop = await cliAs(nobody, bundleFor(ctx, nobody), ["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stdout + stop.stderr).toBe(1)
    expect(stop.stderr).toMatch(
      new RegExp(`cannot write the planned-stop marker so that the gateway can read it: .* belongs to uid ${otherUser}, ` +
        `and this command runs as uid ${nobody}`)
    )
    expect(stop.stdout).not.toContain("gateway stopped")
    expect(fs.existsSync(home.plannedStop)).toBe(false)
    expect(gw.alive, "the gateway was not signalled").toBe(true)
  })
})
