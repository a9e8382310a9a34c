import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makePollerLock } from "../../../../src/adapters/telegram/PollerLock.js"
import { type RuntimeDirOptions, userRuntimeDirSync } from "../../../../src/home/RuntimeDir.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const scratch = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-runtime-"))
  dirs.push(dir)
  return dir
}
const uid = process.getuid!()
const isRoot = uid === 0
const token = Redacted.make("424242:SECRET-token-value")

describe("one poller per bot token", () => {
  it.effect("a second gateway with the same token is refused (69) naming the first's home and pid; free again after release", () =>
    Effect.gen(function*() {
      const runtime: RuntimeDirOptions = { xdgRuntimeDir: scratch(), uid, tmpDir: scratch() }
      const first = makePollerLock({ token, tokenEnv: "TELEGRAM_BOT_TOKEN", home: "/homes/first", runtime })
      const second = makePollerLock({ token, tokenEnv: "TELEGRAM_BOT_TOKEN", home: "/homes/second", runtime })
      const other = makePollerLock({ token: Redacted.make("1:other"), tokenEnv: "T", home: "/homes/third", runtime })
      yield* first.take
      yield* other.take
      const refused = yield* Effect.either(second.take)
      expect(Either.isLeft(refused)).toBe(true)
      const error = Either.getLeft(refused).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
      expect(error.exitCode).toBe(69)
      expect(error.endsStartup).toBe(true)
      expect(error.message).toContain("home /homes/first")
      expect(error.message).toContain(`pid ${process.pid}`)
      expect(error.message).toContain("$TELEGRAM_BOT_TOKEN")
      expect(error.message).not.toContain("SECRET")
      const lockDir = path.join(runtime.xdgRuntimeDir!, "hermes-gateway")
      expect(fs.statSync(lockDir).mode & 0o777).toBe(0o700)
      for (const name of fs.readdirSync(lockDir)) expect(name).not.toMatch(/SECRET|424242/)
      yield* first.release
      yield* second.take
      yield* second.release
      yield* other.release
      // the holder's record goes with the lock
      expect(fs.readdirSync(lockDir).filter((name) => name.endsWith(".json"))).toEqual([])
    }))
})

describe("the holder's record", () => {
  it.effect("a record left by a holder that died is not named (the new holder has not written its own yet)", () =>
    Effect.gen(function*() {
      const runtime: RuntimeDirOptions = { xdgRuntimeDir: scratch(), uid, tmpDir: scratch() }
      const first = makePollerLock({ token, tokenEnv: "TELEGRAM_BOT_TOKEN", home: "/homes/first", runtime })
      yield* first.take
      const lockDir = path.join(runtime.xdgRuntimeDir!, "hermes-gateway")
      const sidecar = fs.readdirSync(lockDir).find((name) => name.endsWith(".json"))!
      fs.writeFileSync(
        path.join(lockDir, sidecar),
        JSON.stringify({ home: "/homes/long-gone", pid: 999_999_999, start_time: "1", started_at: "2020-01-01T00:00:00Z" })
      )
      const second = makePollerLock({ token, tokenEnv: "TELEGRAM_BOT_TOKEN", home: "/homes/second", runtime })
      const refused = yield* Effect.flip(second.take)
      expect(refused.message).toContain("already polled by another gateway (it has not said which yet)")
      expect(refused.message).not.toContain("long-gone")
      yield* first.release
      // not ours any more: left alone
      expect(fs.existsSync(path.join(lockDir, sidecar))).toBe(true)
    }))
})

describe("per-user runtime directory", () => {
  it("uses $XDG_RUNTIME_DIR/hermes-gateway when XDG_RUNTIME_DIR is ours and 0700, else /tmp/hermes-gateway-<uid>", () => {
    const xdg = scratch()
    const tmp = scratch()
    expect(userRuntimeDirSync({ xdgRuntimeDir: xdg, uid, tmpDir: tmp })).toBe(path.join(xdg, "hermes-gateway"))
    fs.chmodSync(xdg, 0o755)
    expect(userRuntimeDirSync({ xdgRuntimeDir: xdg, uid, tmpDir: tmp })).toBe(path.join(tmp, `hermes-gateway-${uid}`))
    expect(userRuntimeDirSync({ xdgRuntimeDir: undefined, uid, tmpDir: tmp })).toBe(path.join(tmp, `hermes-gateway-${uid}`))
    expect(fs.statSync(path.join(tmp, `hermes-gateway-${uid}`)).mode & 0o777).toBe(0o700)
  })

  it("refuses a directory with the wrong mode or a symlink in its place", () => {
    const tmp = scratch()
    const dir = path.join(tmp, `hermes-gateway-${uid}`)
    fs.mkdirSync(dir, { mode: 0o777 })
    fs.chmodSync(dir, 0o777)
    expect(() => userRuntimeDirSync({ xdgRuntimeDir: undefined, uid, tmpDir: tmp })).toThrow(/mode is 0777, not 0700/)
    fs.rmdirSync(dir)
    fs.symlinkSync(scratch(), dir)
    expect(() => userRuntimeDirSync({ xdgRuntimeDir: undefined, uid, tmpDir: tmp })).toThrow(/symbolic link/)
  })

  it.skipIf(!isRoot)("refuses a directory another user created first (squatting in /tmp)", () => {
    const tmp = scratch()
    const dir = path.join(tmp, `hermes-gateway-${uid}`)
    fs.mkdirSync(dir, { mode: 0o700 })
    fs.chownSync(dir, 65534, 65534)
    expect(() => userRuntimeDirSync({ xdgRuntimeDir: undefined, uid, tmpDir: tmp })).toThrow(/owned by uid 65534, not by us/)
  })
})
