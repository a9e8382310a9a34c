// Home files: atomic writes, tolerant reads, process identity, home resolution, the instance lock.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readJsonSync, writeJsonAtomicOffLoop, writeJsonAtomicSync } from "../../../src/home/AtomicFile.js"
import { homePaths, resolveHomeDir } from "../../../src/home/HomePaths.js"
import { CleanShutdownDocument } from "../../../src/home/CleanShutdownFile.js"
import { LockHello, probeControl, requestControl } from "../../../src/home/ControlSocket.js"
import { acquireInstanceLock, takeHomeLock } from "../../../src/home/InstanceLock.js"
import { parseProcStatStartTime, readStartTime } from "../../../src/home/ProcessIdentity.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "hermes-home-"))
const Doc = Schema.Struct({ a: Schema.Number })

describe("atomic JSON files", () => {
  it("writes mode 0600 and leaves no temp file behind", () => {
    const dir = tempDir()
    try {
      const file = path.join(dir, "x.json")
      writeJsonAtomicSync(file, { a: 1 })
      writeJsonAtomicSync(file, { a: 2 })
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.readdirSync(dir)).toEqual(["x.json"])
      expect(readJsonSync(file, Doc)).toEqual({ _tag: "Valid", value: { a: 2 } })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
  it.effect("off the event loop: the same mode, no temp file left, and a write that cannot happen is a FileWriteError naming the file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const file = path.join(dir, "x.json")
      yield* writeJsonAtomicOffLoop(file, { a: 1 })
      yield* writeJsonAtomicOffLoop(file, { a: 2 })
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.readdirSync(dir)).toEqual(["x.json"])
      expect(readJsonSync(file, Doc)).toEqual({ _tag: "Valid", value: { a: 2 } })
      // The target is a directory: the rename fails, the temp file is removed, the old state stays.
      fs.mkdirSync(path.join(dir, "busy.json"))
      const failed = yield* Effect.flip(writeJsonAtomicOffLoop(path.join(dir, "busy.json"), { a: 3 }))
      expect(failed._tag).toBe("FileWriteError")
      expect(failed.message).toContain("busy.json")
      expect(fs.readdirSync(dir).sort()).toEqual(["busy.json", "x.json"])
    }).pipe(Effect.scoped))
  it.live("off the event loop: an interrupted write finishes before a later one starts, so the later document stays", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const file = path.join(dir, "x.json")
      const Big = Schema.Struct({ a: Schema.Number, pad: Schema.String })
      for (let round = 0; round < 20; round++) {
        // A large document is still on its way to the disk when its writer is interrupted.
        const slow = yield* Effect.fork(writeJsonAtomicOffLoop(file, { a: -1, pad: "x".repeat(4_000_000) }))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(slow)
        // The interruption returned only once the write was over (done, or never begun): no temp
        // file is left being written behind our back to land after the next write.
        expect(fs.readdirSync(dir).filter((name) => name !== "x.json")).toEqual([])
        yield* writeJsonAtomicOffLoop(file, { a: round, pad: "" })
        expect(readJsonSync(file, Big)).toEqual({ _tag: "Valid", value: { a: round, pad: "" } })
      }
    }).pipe(Effect.scoped), 60_000)
  it("missing, empty, truncated, malformed, wrongly shaped and symlinked files are never Valid", () => {
    const dir = tempDir()
    try {
      const file = path.join(dir, "x.json")
      expect(readJsonSync(file, Doc)._tag).toBe("Missing")
      for (const text of ["", "   \n", "{\"a\": 1", "garbage", "{\"a\": \"one\"}", "[]"]) {
        fs.writeFileSync(file, text)
        const reading = readJsonSync(file, Doc)
        expect(reading._tag, JSON.stringify(text)).toBe("Invalid")
      }
      fs.writeFileSync(path.join(dir, "real.json"), "{\"a\": 1}")
      fs.rmSync(file)
      fs.symlinkSync(path.join(dir, "real.json"), file)
      const reading = readJsonSync(file, Doc)
      expect(reading._tag).toBe("Invalid")
      expect(reading._tag === "Invalid" && reading.reason).toContain("symbolic link")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("process identity", () => {
  it("reads field 22 even when the command name holds spaces and parentheses", () => {
    const fields = Array.from({ length: 50 }, (_, i) => (i === 0 ? "S" : String(i + 3)))
    expect(parseProcStatStartTime(`123 (evil) name (x) ${fields.join(" ")}`)).toBe("22")
    expect(parseProcStatStartTime("garbage")).toBeUndefined()
  })
  it("knows its own start time and none for a pid that does not exist", () => {
    expect(readStartTime(process.pid)).toMatch(/^\d+$/)
    expect(readStartTime(2 ** 22 + 12345)).toBeUndefined()
    expect(readStartTime(0)).toBeUndefined()
  })
  it("the records that name a process (.clean_shutdown, the control hello) require a numeric pid and a start time", () => {
    const records = [
      [CleanShutdownDocument, { pid: 42, start_time: "9001", classification: "planned", written_at: "2026-01-01T00:00:00.000Z" }],
      [LockHello, { pid: 42, start_time: "9001", home: "/var/lib/hermes" }]
    ] as const
    for (const [schema, record] of records) {
      const decode = Schema.decodeUnknownEither(schema as Schema.Schema<unknown>)
      expect(Either.getOrThrow(decode(record))).toEqual(record)
      expect(Either.isLeft(decode({ ...record, pid: "42" }))).toBe(true)
      expect(Either.isLeft(decode({ ...record, start_time: 9001 }))).toBe(true)
      const { start_time: _, ...withoutStartTime } = record
      expect(Either.isLeft(decode(withoutStartTime))).toBe(true)
    }
  })
})

describe("home resolution", () => {
  it("--home beats HERMES_HOME beats ~/.hermes", () => {
    expect(resolveHomeDir("/a", { HERMES_HOME: "/b" })).toBe("/a")
    expect(resolveHomeDir(undefined, { HERMES_HOME: "/b" })).toBe("/b")
    expect(resolveHomeDir(undefined, {})).toBe(path.join(os.homedir(), ".hermes"))
    expect(homePaths("/h").plannedStop).toBe("/h/.gateway-planned-stop.json")
  })
})

describe("instance lock", () => {
  const hello = (dir: string) => ({ pid: process.pid, start_time: "1", home: dir })

  it.live("a second holder is refused while the first holds gateway.lock; released, the home can be taken again", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const second = yield* Effect.scoped(Effect.gen(function*() {
        yield* acquireInstanceLock(dir, hello(dir))
        const holder = yield* probeControl(dir)
        expect(Option.getOrNull(holder)?.pid).toBe(process.pid)
        return yield* Effect.exit(Effect.scoped(takeHomeLock(dir, Duration.zero)))
      }))
      expect(Exit.isFailure(second)).toBe(true)
      expect(JSON.stringify(second)).toContain("HomeLocked")
      // Released: the socket file is gone, nobody answers, and the lock can be taken again.
      expect(fs.existsSync(path.join(dir, "gateway.sock"))).toBe(false)
      expect(Option.isNone(yield* probeControl(dir))).toBe(true)
      yield* Effect.scoped(acquireInstanceLock(dir, hello(dir)))
    }).pipe(Effect.scoped))

  it.live("the control socket is a 0600 file in the home, replaces a stale one, and works for a home path over 108 bytes", () =>
    Effect.gen(function*() {
      const base = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(base, { recursive: true, force: true })))
      const dir = path.join(base, "a-rather-long-directory-name-".repeat(4), "home")
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      expect(Buffer.byteLength(path.join(dir, "gateway.sock"))).toBeGreaterThan(108)
      // A socket file left by a killed gateway (nobody listens on it).
      fs.writeFileSync(path.join(dir, "gateway.sock"), "stale")
      yield* Effect.scoped(Effect.gen(function*() {
        const control = yield* acquireInstanceLock(dir, hello(dir))
        control.serve((request) => Promise.resolve({ ok: request }))
        const stat = fs.lstatSync(path.join(dir, "gateway.sock"))
        expect(stat.isSocket()).toBe(true)
        expect(stat.mode & 0o777).toBe(0o600)
        const reply = yield* requestControl(dir, { op: "sessions" })
        expect(reply).toMatchObject({ _tag: "Answered", hello: { pid: process.pid }, answer: Option.some({ ok: { op: "sessions" } }) })
      }))
      expect(fs.existsSync(path.join(dir, "gateway.sock"))).toBe(false)
      expect(yield* requestControl(dir, { op: "sessions" })).toEqual({ _tag: "NoListener" })
    }).pipe(Effect.scoped))
})
