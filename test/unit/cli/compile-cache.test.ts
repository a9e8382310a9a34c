// The entry point's compile cache (src/bin/CompileCache.ts): where it lives, when it is refused,
// and that no outcome ever throws. Node's own API is replaced by a recorder here; the e2e test
// compile-cache.test.ts runs the real one where Node has it.
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { defaultCacheDirectory, enableCompileCache, unsafeCacheDirectory } from "../../../src/bin/CompileCache.js"

const isRoot = process.getuid?.() === 0
const uid = process.getuid?.() ?? 0

let dir = ""
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-compile-cache-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const FAILED = 0
const ENABLED = 1
/** Node's module API as far as the cache goes, recording the directory it was given. */
const recorder = (status = ENABLED) => {
  const calls: Array<string | undefined> = []
  return {
    calls,
    api: {
      enableCompileCache: (directory?: string) => {
        calls.push(directory)
        return status === FAILED ? { status, message: "cannot write" } : { status, directory }
      },
      constants: { compileCacheStatus: { FAILED, ENABLED, ALREADY_ENABLED: 2, DISABLED: 3 } }
    }
  }
}

describe("defaultCacheDirectory", () => {
  it("is under XDG_CACHE_HOME when it is absolute, else under the home's .cache, else none", () => {
    expect(defaultCacheDirectory({ XDG_CACHE_HOME: "/var/cache/me" }, "/home/me")).toBe("/var/cache/me/hermes-gateway/node-compile-cache")
    expect(defaultCacheDirectory({ XDG_CACHE_HOME: "relative/cache" }, "/home/me")).toBe("/home/me/.cache/hermes-gateway/node-compile-cache")
    expect(defaultCacheDirectory({}, "/home/me")).toBe("/home/me/.cache/hermes-gateway/node-compile-cache")
    expect(defaultCacheDirectory({}, "")).toBeUndefined()
    expect(defaultCacheDirectory({ XDG_CACHE_HOME: "" }, "relative")).toBeUndefined()
  })
})

describe("unsafeCacheDirectory", () => {
  it("accepts a private directory of ours below a sticky shared one (/tmp)", () => {
    const cache = path.join(dir, "cache")
    fs.mkdirSync(cache, { mode: 0o700 })
    expect(unsafeCacheDirectory(cache, uid)).toBeUndefined()
  })

  it("refuses a cache directory others may write, even a sticky one", () => {
    const cache = path.join(dir, "cache")
    fs.mkdirSync(cache)
    fs.chmodSync(cache, 0o1777)
    expect(unsafeCacheDirectory(cache, uid)).toBe(`${cache} is writable by others`)
  })

  it("refuses a cache below a directory others may write without the sticky bit", () => {
    const shared = path.join(dir, "shared")
    fs.mkdirSync(shared)
    fs.chmodSync(shared, 0o777)
    const cache = path.join(shared, "cache")
    fs.mkdirSync(cache, { mode: 0o700 })
    expect(unsafeCacheDirectory(cache, uid)).toBe(`${shared} is writable by others`)
  })

  it("refuses a symbolic link and a missing directory", () => {
    const real = path.join(dir, "real")
    fs.mkdirSync(real, { mode: 0o700 })
    const link = path.join(dir, "link")
    fs.symlinkSync(real, link)
    expect(unsafeCacheDirectory(link, uid)).toBe(`${link} is not a directory`)
    expect(unsafeCacheDirectory(path.join(dir, "absent"), uid)).toBe(`${path.join(dir, "absent")}: ENOENT`)
  })

  it.skipIf(!isRoot)("refuses a directory that belongs to another user", () => {
    const cache = path.join(dir, "cache")
    fs.mkdirSync(cache, { mode: 0o700 })
    fs.chownSync(cache, 65534, 65534)
    expect(unsafeCacheDirectory(cache, uid)).toBe(`${cache} belongs to uid 65534`)
  })
})

describe("enableCompileCache", () => {
  it("creates a private directory under XDG_CACHE_HOME and gives it to Node", () => {
    const { api, calls } = recorder()
    const outcome = enableCompileCache({ XDG_CACHE_HOME: dir }, api)
    const expected = path.join(dir, "hermes-gateway", "node-compile-cache")
    expect(outcome).toEqual({ _tag: "Enabled", directory: expected })
    expect(calls).toEqual([expected])
    expect(fs.statSync(expected).mode & 0o777).toBe(0o700)
  })

  it("leaves NODE_COMPILE_CACHE and NODE_DISABLE_COMPILE_CACHE to Node", () => {
    const { api, calls } = recorder()
    expect(enableCompileCache({ XDG_CACHE_HOME: dir, NODE_COMPILE_CACHE: "/elsewhere" }, api)._tag).toBe("Skipped")
    expect(enableCompileCache({ XDG_CACHE_HOME: dir, NODE_DISABLE_COMPILE_CACHE: "1" }, api)._tag).toBe("Skipped")
    expect(calls).toEqual([])
    expect(fs.existsSync(path.join(dir, "hermes-gateway"))).toBe(false)
  })

  it("does nothing on a Node without the API", () => {
    expect(enableCompileCache({ XDG_CACHE_HOME: dir }, {})).toMatchObject({ _tag: "Skipped", reason: expect.stringContaining("not in Node") })
  })

  it("never throws: a cache directory that cannot be made, or that Node cannot use, only means no cache", () => {
    const file = path.join(dir, "file")
    fs.writeFileSync(file, "")
    const { api, calls } = recorder()
    expect(enableCompileCache({ XDG_CACHE_HOME: file }, api)).toMatchObject({ _tag: "Skipped", reason: expect.stringContaining("ENOTDIR") })
    expect(calls).toEqual([])
    expect(enableCompileCache({ XDG_CACHE_HOME: dir }, recorder(FAILED).api)).toEqual({ _tag: "Skipped", reason: "cannot write" })
    const throwing = { enableCompileCache: () => { throw new Error("boom") } }
    expect(enableCompileCache({ XDG_CACHE_HOME: dir }, throwing)).toEqual({ _tag: "Skipped", reason: "boom" })
  })

  it("does not use a cache directory that someone made writable for others", () => {
    const cache = path.join(dir, "hermes-gateway", "node-compile-cache")
    fs.mkdirSync(cache, { recursive: true, mode: 0o700 })
    fs.chmodSync(cache, 0o777)
    const { api, calls } = recorder()
    expect(enableCompileCache({ XDG_CACHE_HOME: dir }, api)).toEqual({ _tag: "Skipped", reason: `${cache} is writable by others` })
    expect(calls).toEqual([])
  })
})
