// A home is checked before the gateway trusts it: creatable, a directory, ours, private, writable.
// Real directories, modes, owners, symbolic links and (as root) a read-only mount.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { checkHomeUsable, type HomeProblem, HomeUnusable, requireHomeUsable } from "../../../src/forensics/HomeCheck.js"

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url))
const moduleUrl = new URL("../../../src/forensics/HomeCheck.ts", import.meta.url).href
const isRoot = typeof process.getuid === "function" && process.getuid() === 0
const nobody = 65534

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-homecheck-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const tags = (problems: ReadonlyArray<HomeProblem>) => problems.map((p) => p._tag)
const leftovers = (home: string) => fs.readdirSync(home).filter((name) => name.startsWith(".hermes-probe-"))

describe("checkHomeUsable", () => {
  it("creates an absent home (and its parents) with mode 0700 and finds nothing wrong", () => {
    const home = path.join(dir, "a", "b", "home")
    const check = checkHomeUsable(home)
    expect(check).toEqual({ dir: home, realDir: null, created: true, problems: [] })
    expect(fs.statSync(home).mode & 0o777).toBe(0o700)
    expect(leftovers(home)).toEqual([])
  })

  it("an existing private home passes and the probe file is removed", () => {
    const check = checkHomeUsable(dir)
    expect(check.problems).toEqual([])
    expect(check.created).toBe(false)
    expect(leftovers(dir)).toEqual([])
  })

  it("does not create the home when told not to", () => {
    const check = checkHomeUsable(path.join(dir, "absent"), { create: false })
    expect(tags(check.problems)).toEqual(["CannotCreate"])
    expect(fs.existsSync(path.join(dir, "absent"))).toBe(false)
  })

  it("a file where the home should be, or on its path, is not a directory", () => {
    const file = path.join(dir, "file")
    fs.writeFileSync(file, "")
    expect(checkHomeUsable(file).problems).toMatchObject([{ _tag: "NotADirectory", exitCode: 78 }])
    expect(checkHomeUsable(path.join(file, "home")).problems).toMatchObject([{ _tag: "NotADirectory", exitCode: 78 }])
  })

  it.each([
    [0o777, "world-writable (mode 0777)"],
    [0o770, "group-writable (mode 0770)"],
    [0o1777, "world-writable (mode 1777)"]
  ])("mode %o is refused: %s", (mode, text) => {
    const home = path.join(dir, "home")
    fs.mkdirSync(home)
    fs.chmodSync(home, mode)
    const check = checkHomeUsable(home)
    expect(check.problems).toMatchObject([{ _tag: "InsecurePermissions", mode, exitCode: 78 }])
    expect(check.problems[0]!.message).toContain(text)
    expect(check.problems[0]!.message).toContain(`chmod 700 ${home}`)
  })

  it("a group- or world-readable (not writable) home is accepted", () => {
    fs.chmodSync(dir, 0o755)
    expect(checkHomeUsable(dir).problems).toEqual([])
  })

  it("a home owned by another uid is refused with exit code 78", () => {
    const check = checkHomeUsable(dir, { uid: 12345 })
    expect(check.problems).toMatchObject([{ _tag: "WrongOwner", owner: fs.statSync(dir).uid, expected: 12345, exitCode: 78 }])
    expect(check.problems[0]!.message).toContain("but the gateway runs as uid 12345")
  })

  it.runIf(isRoot)("(root) a home chowned to another user is refused", () => {
    const home = path.join(dir, "theirs")
    fs.mkdirSync(home, { mode: 0o700 })
    fs.chownSync(home, nobody, nobody)
    expect(tags(checkHomeUsable(home).problems)).toEqual(["WrongOwner"])
  })

  describe("symbolic link as home", () => {
    it("to a good directory: accepted, and where it really is is reported", () => {
      const target = path.join(dir, "real")
      fs.mkdirSync(target, { mode: 0o700 })
      const link = path.join(dir, "link")
      fs.symlinkSync(target, link)
      const check = checkHomeUsable(link)
      expect(check.problems).toEqual([])
      expect(check.realDir).toBe(fs.realpathSync(target))
    })

    it("the target's owner and mode count, not the link's", () => {
      const target = path.join(dir, "real")
      fs.mkdirSync(target)
      fs.chmodSync(target, 0o777)
      fs.symlinkSync(target, path.join(dir, "link"))
      expect(tags(checkHomeUsable(path.join(dir, "link")).problems)).toEqual(["InsecurePermissions"])
    })

    it("to a file: not a directory", () => {
      fs.writeFileSync(path.join(dir, "file"), "")
      fs.symlinkSync(path.join(dir, "file"), path.join(dir, "link"))
      expect(tags(checkHomeUsable(path.join(dir, "link")).problems)).toEqual(["NotADirectory"])
    })

    it("to nothing: said so, and nothing is created behind it", () => {
      fs.symlinkSync(path.join(dir, "gone"), path.join(dir, "link"))
      const check = checkHomeUsable(path.join(dir, "link"))
      expect(tags(check.problems)).toEqual(["CannotCreate"])
      expect(check.problems[0]!.message).toContain("symbolic link to nothing")
      expect(fs.existsSync(path.join(dir, "gone"))).toBe(false)
    })
  })

  it("a directory without write permission is not writable (as root: checked as an unprivileged user)", (ctx) => {
    const home = path.join(dir, "home")
    fs.mkdirSync(home, { mode: 0o700 })
    if (!isRoot) {
      fs.chmodSync(home, 0o500)
      try {
        expect(checkHomeUsable(home).problems).toMatchObject([{ _tag: "NotWritable", code: "EACCES", exitCode: 78 }])
      } finally {
        fs.chmodSync(home, 0o700)
      }
      return
    }
    // Root writes through any mode, so the check runs as `nobody` on a home `nobody` owns.
    fs.chmodSync(dir, 0o755)
    fs.chownSync(home, nobody, nobody)
    fs.chmodSync(home, 0o500)
    const script = `import { checkHomeUsable } from ${JSON.stringify(moduleUrl)}; ` +
      "process.stdout.write(JSON.stringify(checkHomeUsable(process.argv[1])))"
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, home], {
      uid: nobody,
      gid: nobody,
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 30_000
    })
    if (run.status !== 0) ctx.skip(`could not run the check as uid ${nobody}: ${run.error?.message ?? run.stderr.slice(0, 300)}`)
    const check = JSON.parse(run.stdout)
    expect(check.problems).toMatchObject([{ _tag: "NotWritable", code: "EACCES", exitCode: 78 }])
    expect(check.problems[0].message).toContain("give the gateway's user write access")
  })

  it("a read-only file system is refused with exit code 78 (read-only tmpfs, as root)", (ctx) => {
    if (!isRoot) ctx.skip("needs root to mount a read-only tmpfs")
    const mountPoint = path.join(dir, "ro")
    fs.mkdirSync(mountPoint, { mode: 0o700 })
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "ro,mode=0700,size=64k", "tmpfs", mountPoint], { stdio: "pipe", timeout: 10_000 })
    } catch (error) {
      ctx.skip(`mount of a read-only tmpfs failed: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`)
    }
    try {
      const existing = checkHomeUsable(mountPoint)
      expect(existing.problems).toMatchObject([{ _tag: "ReadOnly", exitCode: 78 }])
      expect(existing.problems[0]!.message).toContain("read-only file system")
      const absent = checkHomeUsable(path.join(mountPoint, "home"))
      expect(absent.problems).toMatchObject([{ _tag: "ReadOnly", exitCode: 78 }])
    } finally {
      execFileSync("umount", [mountPoint], { stdio: "pipe", timeout: 10_000 })
    }
  })
})

describe("requireHomeUsable", () => {
  it.effect("succeeds with the check for a good home", () =>
    Effect.gen(function*() {
      const check = yield* requireHomeUsable(dir)
      expect(check.problems).toEqual([])
    }))

  it.effect("fails with HomeUnusable (exit 78) listing every problem", () =>
    Effect.gen(function*() {
      fs.chmodSync(dir, 0o777)
      const exit = yield* Effect.exit(requireHomeUsable(dir, { uid: 12345 }))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        const error = exit.cause.error
        expect(error).toBeInstanceOf(HomeUnusable)
        expect(error.exitCode).toBe(78)
        expect(tags(error.problems)).toEqual(["WrongOwner", "InsecurePermissions"])
        expect(error.message.split("\n")).toHaveLength(2)
      } else {
        throw new Error("expected a failure")
      }
    }))
})
