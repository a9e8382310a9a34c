// End-to-end: the built CLI's fast start. The entry turns on Node's module compile cache (Node >=
// 22.1) in a private directory and loads the program from dist/chunks/; the commands whose code is
// loaded on demand still work; a cache that cannot be used never stops a start.
import * as fs from "node:fs"
import * as module from "node:module"
import * as path from "node:path"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, hermesJs, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const nodeHasCompileCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === "function"

const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : []

/**
 * The files of the built CLI that every start loads: the entry, what it imports, and the program it
 * imports first thing (`await import(".../Main-*.js")`), with everything they import in turn.
 */
const filesLoadedAtStart = (entry: string): ReadonlySet<string> => {
  const program = /^await import\("(\.\/chunks\/Main-[^"]+)"\);?$/m.exec(fs.readFileSync(entry, "utf8"))?.[1]
  if (program === undefined) throw new Error(`${entry} does not import its program as expected: the test needs updating`)
  const loaded = new Set<string>()
  const pending = [entry, path.join(path.dirname(entry), program)]
  while (pending.length > 0) {
    const file = pending.pop()!
    if (loaded.has(file)) continue
    loaded.add(file)
    const text = fs.readFileSync(file, "utf8")
    for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s*"(\.[^"]+)"|^import\s*"(\.[^"]+)"/gms)) {
      pending.push(path.join(path.dirname(file), match[1] ?? match[2]!))
    }
  }
  return loaded
}

describe.concurrent("compile cache and lazily loaded code", () => {
  it("a start loads no PostgreSQL driver: only the commands that use PostgreSQL load it", ({ expect }) => {
    const loaded = [...filesLoadedAtStart(hermesJs)]
    expect(loaded.length).toBeGreaterThan(3)
    // esbuild names each bundled module's path in a comment at its start, relative to where it
    // built (`../../x/node_modules/pg/...` when node_modules is a link to another tree).
    const driverModule = /^\/\/ (?:\S*\/)?node_modules\/pg(?:-[a-z]+)?\//m
    const withDriver = loaded.filter((file) => driverModule.test(fs.readFileSync(file, "utf8")))
    expect(withDriver).toEqual([])
    // The driver is in the build, for the commands that load it: the pattern does find it.
    const chunks = path.join(path.dirname(hermesJs), "chunks")
    expect(fs.readdirSync(chunks).some((f) => driverModule.test(fs.readFileSync(path.join(chunks, f), "utf8")))).toBe(true)
  })

  it("the build reaches node:http through require: an ES import would read its WebSocket getter (undici, tls, CA certificates)", ({ expect }) => {
    const dist = path.dirname(hermesJs)
    const built = filesUnder(dist).filter((file) => file.endsWith(".js")).map((file) => path.join(dist, file))
    const text = (file: string) => fs.readFileSync(file, "utf8")
    const esImport = /^(?:import|export)\s[^;]*?from\s*"(?:node:)?http"|^import\s*"(?:node:)?http"|\bimport\(\s*"(?:node:)?http"\s*\)/m
    expect(built.filter((file) => esImport.test(text(file))).map((file) => path.basename(file))).toEqual([])
    // A start does load node:http (the HTTP adapter), so the pattern has a counterpart to find.
    expect([...filesLoadedAtStart(hermesJs)].some((file) => /\(\s*"node:http"\s*\)/.test(text(file)))).toBe(true)
  })

  it.skipIf(!nodeHasCompileCache)("the program's compiled code is cached in a private directory under XDG_CACHE_HOME", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const cacheHome = path.join(home.dir, "xdg-cache")
    const cache = path.join(cacheHome, "hermes-gateway", "node-compile-cache")
    const first = await sb.cli(["--version"], { XDG_CACHE_HOME: cacheHome })
    expect(first.code, first.stderr).toBe(0)
    expect(filesUnder(cache).length).toBeGreaterThan(0)
    expect(fs.statSync(cache).mode & 0o777).toBe(0o700)
    // A gateway started from the cache runs and stops as ever.
    const gateway = sb.run(home, { XDG_CACHE_HOME: cacheHome })
    await gateway.waitRunning()
    gateway.signal("SIGINT")
    expect(await gateway.waitExit()).toEqual({ code: 0, signal: null })
  })

  it.skipIf(!nodeHasCompileCache)("NODE_COMPILE_CACHE is the operator's: the cache goes there and nowhere else", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home("")
    const chosen = path.join(home.dir, "chosen")
    const cacheHome = path.join(home.dir, "xdg-cache")
    const result = await sb.cli(["--version"], { NODE_COMPILE_CACHE: chosen, XDG_CACHE_HOME: cacheHome })
    expect(result.code, result.stderr).toBe(0)
    expect(filesUnder(chosen).length).toBeGreaterThan(0)
    expect(fs.existsSync(cacheHome)).toBe(false)
  })

  it.skipIf(!nodeHasCompileCache)("a cache directory others may write is not used", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home("")
    const cacheHome = path.join(home.dir, "xdg-cache")
    const cache = path.join(cacheHome, "hermes-gateway", "node-compile-cache")
    fs.mkdirSync(cache, { recursive: true })
    fs.chmodSync(cache, 0o777)
    const result = await sb.cli(["--version"], { XDG_CACHE_HOME: cacheHome })
    expect(result.code, result.stderr).toBe(0)
    expect(filesUnder(cache)).toEqual([])
  })

  it("a cache directory that cannot be made costs nothing: the gateway starts, answers and stops", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const notADirectory = path.join(home.dir, "not-a-directory")
    fs.writeFileSync(notADirectory, "")
    const gateway = sb.run(home, { XDG_CACHE_HOME: notADirectory })
    await gateway.waitRunning()
    expect(gateway.stderr).not.toMatch(/cache/i)
    gateway.signal("SIGINT")
    expect(await gateway.waitExit()).toEqual({ code: 0, signal: null })
  })

  it("the commands whose code is loaded on demand work from the built CLI (install --print, report)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const install = await sb.cli(["gateway", "install", "--manager", "systemd", "--print", "--home", home.dir])
    expect(install.code, install.stderr).toBe(0)
    expect(install.stdout).toContain("ExecStart=")
    const gateway = sb.run(home)
    await gateway.waitRunning()
    gateway.signal("SIGINT")
    expect(await gateway.waitExit()).toEqual({ code: 0, signal: null })
    const report = await sb.cli(["gateway", "report", "--home", home.dir])
    expect(report.code, report.stderr).toBe(0)
    expect(report.stdout).toMatch(/planned/)
  })
})
