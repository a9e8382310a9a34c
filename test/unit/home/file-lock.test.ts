import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { tryLockFile, tryLockFileSync } from "../../../src/home/FileLock.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "hermes-filelock-"))

/** A separate process that takes the lock with the same helper and reports on stdout. */
const otherProcessLocks = (file: string): boolean => {
  const script = `const fs=require("fs");const {spawnSync}=require("child_process");
const fd=fs.openSync(${JSON.stringify(file)},"r+");
const r=spawnSync("flock",["--nonblock","--exclusive","3"],{stdio:["ignore","ignore","ignore",fd]});
process.stdout.write(r.status===0?"locked":"busy")`
  return spawnSync(process.execPath, ["-e", script], { encoding: "utf8" }).stdout === "locked"
}

describe("FileLock", () => {
  it.scoped("a held lock keeps other processes out until the scope closes", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = path.join(dir, "gateway.lock")
      yield* Effect.scoped(Effect.gen(function*() {
        const held = yield* tryLockFile(file)
        expect(Option.isSome(held)).toBe(true)
        expect(otherProcessLocks(file)).toBe(false)
        expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      }))
      expect(otherProcessLocks(file)).toBe(true)
      fs.rmSync(dir, { recursive: true, force: true })
    }))

  it("the kernel releases the lock the moment its holder is SIGKILLed", async () => {
    const dir = tempDir()
    const file = path.join(dir, "gateway.lock")
    const holderScript = `import(${JSON.stringify(new URL("../../../src/home/FileLock.ts", import.meta.url).href)})
      .then((m) => { m.tryLockFileSync(${JSON.stringify(file)}); process.stdout.write("held\\n"); setInterval(() => {}, 1000) })`
    const holder = spawn(process.execPath, ["--import", "tsx", "-e", holderScript], { stdio: ["ignore", "pipe", "inherit"] })
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("held") && resolve())
        holder.once("exit", (code) => reject(new Error(`holder exited ${code}`)))
      })
      expect(Option.isNone(tryLockFileSync(file))).toBe(true)
      const exited = new Promise((resolve) => holder.once("exit", resolve))
      holder.kill("SIGKILL")
      await exited
      const next = tryLockFileSync(file)
      expect(Option.isSome(next)).toBe(true)
      Option.map(next, (lock) => fs.closeSync(lock.fd))
    } finally {
      holder.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses a symlink planted at the lock's path and leaves its target alone", () => {
    const dir = tempDir()
    const target = path.join(dir, "elsewhere")
    fs.writeFileSync(target, "keep")
    fs.symlinkSync(target, path.join(dir, "gateway.lock"))
    expect(() => tryLockFileSync(path.join(dir, "gateway.lock"))).toThrow()
    expect(fs.readFileSync(target, "utf8")).toBe("keep")
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
