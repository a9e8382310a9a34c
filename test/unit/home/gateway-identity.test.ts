// The pure parts of "is this process the gateway of this home": /proc/PID/stat state and start time
// (a zombie is dead), /proc/locks, dev_t splitting, the gateway command line; and the live checks
// against real processes of this machine (a zombie, an unrelated sleep, a holder of the lock file).
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { tryLockFileSync } from "../../../src/home/FileLock.js"
import { checkGatewayProcess, isGatewayCommandLine } from "../../../src/home/GatewayProcess.js"
import { takeHomeLock } from "../../../src/home/InstanceLock.js"
import { legacyLockName, listeningInodes, ownsLegacyLock } from "../../../src/home/LegacyLock.js"
import { flockListed, flockListing, parseProcLocks, splitDevice } from "../../../src/home/ProcLocks.js"
import {
  isAlive,
  isExitedState,
  isSameProcess,
  parseProcStat,
  readStartTime
} from "../../../src/home/ProcessIdentity.js"

const statLine = (comm: string, state: string, start: string) => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3))
  fields[0] = state
  fields[22 - 3] = start
  return `4242 (${comm}) ${fields.join(" ")}\n`
}

describe("/proc/PID/stat", () => {
  it("reads state and start time, whatever the command name holds", () => {
    expect(parseProcStat(statLine("node", "S", "86037"))).toEqual({ state: "S", startTime: "86037" })
    expect(parseProcStat(statLine("a) Z (b", "R", "7"))).toEqual({ state: "R", startTime: "7" })
    expect(parseProcStat(statLine("sleep", "Z", "99"))).toEqual({ state: "Z", startTime: "99" })
    expect(parseProcStat("garbage")).toBeUndefined()
    expect(parseProcStat("1 (x) S 1 2")).toBeUndefined()
  })
  it("zombie and dead states count as exited; running, sleeping, stopped do not", () => {
    for (const state of ["Z", "X", "x"]) expect(isExitedState(state), state).toBe(true)
    for (const state of ["R", "S", "D", "T", "t", "I", "P"]) expect(isExitedState(state), state).toBe(false)
  })
})

describe("/proc/locks", () => {
  const sample = [
    "1: FLOCK  ADVISORY  WRITE 12215 fe:00:2147203 0 EOF",
    "1: -> FLOCK  ADVISORY  WRITE 999 fe:00:2147204 0 EOF",
    "2: POSIX  ADVISORY  WRITE 713 00:19:11 0 EOF",
    "3: OFDLCK ADVISORY  READ  -1 103:02:55 0 EOF",
    "4: FLOCK  ADVISORY  WRITE 0 103:1a:77 0 EOF",
    ""
  ].join("\n")

  it("parses holders (not waiters), with hex device numbers", () => {
    expect(parseProcLocks(sample)).toEqual([
      { kind: "FLOCK", access: "WRITE", major: 0xfe, minor: 0, inode: 2147203 },
      { kind: "POSIX", access: "WRITE", major: 0, minor: 0x19, inode: 11 },
      { kind: "OFDLCK", access: "READ", major: 0x103, minor: 2, inode: 55 },
      { kind: "FLOCK", access: "WRITE", major: 0x103, minor: 0x1a, inode: 77 }
    ])
  })

  it("splits a dev_t the way glibc does, including large majors and minors", () => {
    expect(splitDevice(65024)).toEqual({ major: 0xfe, minor: 0 })
    expect(splitDevice(0x801)).toEqual({ major: 8, minor: 1 })
    // makedev(259, 300): minor bits above 8 live at bit 20.
    const dev = (259 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12)
    expect(splitDevice(dev)).toEqual({ major: 259, minor: 300 })
  })

  it("finds only an flock on the same device and inode", () => {
    const entries = parseProcLocks(sample)
    expect(flockListed(entries, 65024, 2147203)).toBe(true)
    expect(flockListed(entries, 65024, 2147204)).toBe(false) // a waiter only
    expect(flockListed(entries, 0x19, 11)).toBe(false) // a POSIX lock, not ours
    expect(flockListed(entries, 65025, 2147203)).toBe(false)
  })

  it.skipIf(process.platform !== "linux")("sees a lock held through an inherited descriptor, and its release", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-proclocks-"))
    try {
      const file = path.join(dir, "gateway.lock")
      const held = tryLockFileSync(file)
      expect(Option.isSome(held)).toBe(true)
      expect(flockListing(file)).toBe("listed")
      Option.map(held, (lock) => fs.closeSync(lock.fd))
      expect(flockListing(file)).toBe("not_listed")
      expect(flockListing(path.join(dir, "absent"))).toBe("unknown")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("gateway command line", () => {
  it("accepts `gateway run` and `gateway boot`, with options anywhere", () => {
    expect(isGatewayCommandLine(["node", "/opt/hermes/dist/hermes.js", "gateway", "run", "--home", "/h"])).toBe(true)
    expect(isGatewayCommandLine(["node", "hermes.js", "--home", "/h", "gateway", "boot"])).toBe(true)
    expect(isGatewayCommandLine(["node", "hermes.js", "gateway", "--home", "/h", "run"])).toBe(true)
    expect(isGatewayCommandLine(["node", "hermes.js", "gateway", "--log-level=debug", "run"])).toBe(true)
  })
  it("refuses other verbs, a verb given as an option's value, and strangers", () => {
    expect(isGatewayCommandLine(["node", "hermes.js", "gateway", "stop", "--home", "/h"])).toBe(false)
    expect(isGatewayCommandLine(["node", "hermes.js", "gateway", "sessions", "run"])).toBe(false)
    expect(isGatewayCommandLine(["node", "hermes.js", "gateway", "--home", "run", "sessions"])).toBe(false)
    expect(isGatewayCommandLine(["sleep", "1000"])).toBe(false)
    expect(isGatewayCommandLine(["run", "gateway"])).toBe(false)
    expect(isGatewayCommandLine([])).toBe(false)
  })
})

/** Spawns `sh -c SCRIPT` and resolves with the first line it prints. */
const spawnReporting = (script: string): Promise<{ child: ChildProcess; line: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const newline = out.indexOf("\n")
      if (newline >= 0) resolve({ child, line: out.slice(0, newline) })
    })
    child.once("error", reject)
  })

const waitUntil = async (what: string, probe: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.skipIf(process.platform !== "linux")("live identity checks", () => {
  it("a zombie is dead for every liveness check", async () => {
    // perl never reaps the child it forked: a zombie.
    const { child, line } = await spawnReporting("exec perl -e '$| = 1; my $c = fork(); exit 0 if $c == 0; print \"$c\\n\"; sleep 1000'")
    try {
      const zombie = Number(line)
      await waitUntil("the zombie", () => fs.readFileSync(`/proc/${zombie}/stat`, "utf8").includes(") Z "))
      const recorded = parseProcStat(fs.readFileSync(`/proc/${zombie}/stat`, "utf8"))!.startTime
      expect(isAlive(zombie)).toBe(false)
      expect(readStartTime(zombie)).toBeUndefined()
      expect(isSameProcess({ pid: zombie, startTime: recorded })).toBe(false)
      expect(checkGatewayProcess({ pid: zombie, startTime: recorded }, "/nonexistent/gateway.lock")).toMatchObject({
        _tag: "Rejected",
        reason: expect.stringContaining("zombie")
      })
      expect(isAlive(child.pid!)).toBe(true)
    } finally {
      child.kill("SIGKILL")
    }
  })

  it("a live process with its real start time is not a gateway unless it runs one and holds the lock file", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-identity-"))
    const lockFile = path.join(dir, "gateway.lock")
    fs.writeFileSync(lockFile, "")
    const { child } = await spawnReporting("echo up; exec sleep 1000")
    try {
      const sleeper = { pid: child.pid!, startTime: readStartTime(child.pid!)! }
      await waitUntil("sleep to exec", () => fs.readFileSync(`/proc/${sleeper.pid}/cmdline`, "utf8").startsWith("sleep"))
      expect(isSameProcess(sleeper)).toBe(true)
      expect(checkGatewayProcess(sleeper, lockFile)).toMatchObject({ _tag: "Rejected", reason: expect.stringContaining("not a hermes gateway") })
      expect(checkGatewayProcess({ ...sleeper, startTime: "1" }, lockFile)).toMatchObject({
        _tag: "Rejected",
        reason: expect.stringContaining("start time differs")
      })
      expect(checkGatewayProcess({ pid: 2 ** 22 + 7, startTime: "1" }, lockFile)).toMatchObject({
        _tag: "Rejected",
        reason: expect.stringContaining("not running")
      })
    } finally {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
  it("a `gateway run` process is verified only while it holds this home's lock file open", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-identity-"))
    const lockFile = path.join(dir, "gateway.lock")
    fs.writeFileSync(lockFile, "")
    const script = `const fs = require("fs"); const fd = fs.openSync(${JSON.stringify(lockFile)}, "r");
      console.log("open"); process.stdin.once("data", () => { fs.closeSync(fd); console.log("closed") }); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ["-e", script, "gateway", "run", "--home", dir], { stdio: ["pipe", "pipe", "inherit"] })
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    try {
      await waitUntil("the lock file open", () => out.includes("open"))
      const gateway = { pid: child.pid!, startTime: readStartTime(child.pid!)! }
      expect(checkGatewayProcess(gateway, lockFile)).toEqual({ _tag: "Verified" })
      expect(checkGatewayProcess(gateway, path.join(dir, "other.lock"))).toMatchObject({ _tag: "Rejected" })
      child.stdin!.write("close\n")
      await waitUntil("the lock file closed", () => out.includes("closed"))
      expect(checkGatewayProcess(gateway, lockFile)).toMatchObject({
        _tag: "Rejected",
        reason: expect.stringContaining("does not hold this home's lock")
      })
    } finally {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("a gateway of the previous release (abstract-socket lock)", () => {
  it("finds listening sockets by name in /proc/net/unix", () => {
    const listing = [
      "Num       RefCount Protocol Flags    Type St Inode Path",
      "0000000000000000: 00000002 00000000 00010000 0001 01 4711 @hermes-gateway/abc@@@@@@@@",
      "0000000000000000: 00000002 00000000 00010000 0001 01 4710 @hermes-gateway/abcd",
      "0000000000000000: 00000003 00000000 00000000 0001 03 4712 @hermes-gateway/abc",
      "0000000000000000: 00000002 00000000 00010000 0001 01 4713 /run/other.sock",
      "0000000000000000: 00000002 00000000 00010000 0001 01 4714"
    ].join("\n")
    expect(listeningInodes(listing, "@hermes-gateway/abc")).toEqual(["4711"])
    expect(listeningInodes(listing, "@hermes-gateway/def")).toEqual([])
  })

  it.skipIf(process.platform !== "linux")("counts only while the process gateway.pid names owns the old lock socket itself", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-legacy-"))
    const name = legacyLockName(fs.statSync(dir, { bigint: true }))
    const script = `require("net").createServer().listen({ path: "\\0" + ${JSON.stringify(name.slice(1))} }, () => console.log("listening"))`
    const legacy = spawn(process.execPath, ["-e", script, "gateway", "run", "--home", dir], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    legacy.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    const { child: stranger } = await spawnReporting("echo up; exec sleep 1000")
    try {
      await waitUntil("the old lock socket", () => out.includes("listening"))
      const lockFile = path.join(dir, "gateway.lock")
      const identity = { pid: legacy.pid!, startTime: readStartTime(legacy.pid!)! }
      expect(checkGatewayProcess(identity, lockFile)).toEqual({ _tag: "Verified" })
      // A new start on that home refuses to run beside it, naming it.
      fs.writeFileSync(path.join(dir, "gateway.pid"), JSON.stringify({ pid: identity.pid, start_time: identity.startTime, argv: [], home: dir, started_at: "x" }))
      const start = await Effect.runPromiseExit(Effect.scoped(takeHomeLock(dir, Duration.zero)))
      expect(JSON.stringify(start)).toContain(`pid ${identity.pid}`)
      // Someone else's process does not become a gateway because another one listens on the name.
      await waitUntil("sleep to exec", () => fs.readFileSync(`/proc/${stranger.pid}/cmdline`, "utf8").startsWith("sleep"))
      expect(ownsLegacyLock(stranger.pid!, dir)).toBe(false)
      expect(ownsLegacyLock(identity.pid, path.join(dir, "elsewhere"))).toBe(false)
    } finally {
      legacy.kill("SIGKILL")
      stranger.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
