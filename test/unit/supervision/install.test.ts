// `hermes gateway install|uninstall`, run as the command's Effect against scratch directories:
// where files go, that they are written whole with their modes, sized from the home's config, and
// that uninstall removes exactly what install wrote and nothing of anyone else's.
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  install,
  type InstallOptions,
  type InstallRuntime,
  uninstall
} from "../../../src/cli/InstallCommand.js"
import { exitCodeOf } from "../../../src/lifecycle/ExitCode.js"
import type { Manager } from "../../../src/supervision/Definition.js"
import { defaultOutDir } from "../../../src/supervision/Install.js"
import { renderers } from "../../../src/supervision/Renderers.js"
import { defaultBudget, scratchDir } from "./fixtures.js"

let scratch: Array<string> = []
afterEach(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true })
  scratch = []
})

interface World {
  readonly root: string
  readonly home: string
  readonly bundle: string
  readonly runtime: InstallRuntime
  readonly output: () => string
}

const world = (env: Record<string, string> = {}): World => {
  const root = scratchDir("install")
  scratch.push(root)
  const bundle = path.join(root, "dist", "hermes.js")
  fs.mkdirSync(path.dirname(bundle))
  fs.writeFileSync(bundle, "// bundle\n")
  fs.symlinkSync(bundle, path.join(root, "hermes-link.js"))
  const cwd = path.join(root, "cwd")
  fs.mkdirSync(cwd)
  let written = ""
  return {
    root,
    home: path.join(root, "home"),
    bundle,
    output: () => written,
    runtime: {
      nodePath: process.execPath,
      // A bin link, as a global npm install runs it: the definition must name the real file.
      script: path.join(root, "hermes-link.js"),
      env,
      cwd,
      userHome: path.join(root, "user"),
      write: (text) => {
        written += text
      }
    }
  }
}

const options = (w: World, manager: Manager, over: Partial<InstallOptions> = {}): InstallOptions => ({
  manager,
  print: false,
  out: Option.some(path.join(w.root, "out")),
  home: Option.some(w.home),
  name: "hermes-gateway",
  user: Option.none(),
  ...over
})

const exitCode = <A, E>(effect: Effect.Effect<A, E>) => Effect.map(Effect.exit(effect), exitCodeOf)

const mode = (file: string) => fs.statSync(file).mode & 0o7777

describe("install", () => {
  it.effect("--print writes the definition to stdout and creates nothing", () =>
    Effect.gen(function*() {
      const w = world()
      expect(yield* exitCode(install(options(w, "systemd", { print: true }), w.runtime))).toBe(0)
      const [unit] = renderers.systemd({
        nodePath: process.execPath,
        entry: w.bundle,
        home: w.home,
        budget: defaultBudget,
        serviceName: "hermes-gateway"
      })
      expect(w.output()).toBe(unit!.content)
      expect(fs.existsSync(path.join(w.root, "out"))).toBe(false)
      expect(fs.existsSync(w.home)).toBe(false)
    }))

  it.effect("--print of a service directory labels each file", () =>
    Effect.gen(function*() {
      const w = world()
      yield* install(options(w, "runit", { print: true }), w.runtime)
      expect(w.output().match(/^# ==> .* <==$/gm)).toEqual([
        "# ==> run (mode 0755) <==",
        "# ==> finish (mode 0755) <==",
        "# ==> control/t (mode 0755) <=="
      ])
    }))

  it.effect("writes the unit with its mode, naming the real bundle, and says what to run next", () =>
    Effect.gen(function*() {
      const w = world()
      yield* install(options(w, "systemd"), w.runtime)
      const unit = path.join(w.root, "out", "hermes-gateway.service")
      expect(mode(unit)).toBe(0o644)
      const content = fs.readFileSync(unit, "utf8")
      expect(content).toContain(`ExecStart=${process.execPath} ${w.bundle} gateway run --home ${w.home}`)
      expect(content).toContain("TimeoutStopSec=40s")
      expect(w.output()).toContain(`wrote ${unit}`)
      expect(w.output()).toContain("kill timeout 40s (hard shutdown deadline 35s + 5s")
      expect(w.output()).toContain("systemctl --user daemon-reload && systemctl --user enable --now hermes-gateway")
      // No temp file left next to it.
      expect(fs.readdirSync(path.join(w.root, "out"))).toEqual(["hermes-gateway.service"])
    }))

  it.effect("a second install with nothing changed leaves the file alone", () =>
    Effect.gen(function*() {
      const w = world()
      yield* install(options(w, "supervisord"), w.runtime)
      yield* install(options(w, "supervisord"), w.runtime)
      expect(w.output()).toMatch(/unchanged .*hermes-gateway\.conf/)
    }))

  it.effect("s6 goes to <home>/service/<name> by default, scripts executable, home created private", () =>
    Effect.gen(function*() {
      const w = world()
      yield* install(options(w, "s6", { out: Option.none() }), w.runtime)
      const dir = path.join(w.home, "service", "hermes-gateway")
      expect(fs.readdirSync(dir).sort()).toEqual(["finish", "run", "timeout-kill"])
      expect(mode(path.join(dir, "run"))).toBe(0o755)
      expect(mode(path.join(dir, "finish"))).toBe(0o755)
      expect(mode(path.join(dir, "timeout-kill"))).toBe(0o644)
      expect(mode(w.home)).toBe(0o700)
      expect(fs.existsSync(path.join(w.home, "logs"))).toBe(true)
    }))

  it.effect("the kill timeout follows the home's config, and the longer of file and environment", () =>
    Effect.gen(function*() {
      const w = world()
      fs.mkdirSync(w.home)
      fs.writeFileSync(path.join(w.home, "config.yaml"), "gateway:\n  drain_timeout: 60s\n")
      yield* install(options(w, "systemd", { print: true }), w.runtime)
      expect(w.output()).toContain("TimeoutStopSec=80s")

      const shell = world({ HERMES_GATEWAY_DRAIN_TIMEOUT: "100s" })
      fs.mkdirSync(shell.home)
      fs.writeFileSync(path.join(shell.home, "config.yaml"), "gateway:\n  drain_timeout: 60s\n  db_close_timeout: 10.5s\n")
      yield* install(options(shell, "systemd", { print: true }), shell.runtime)
      // drain 100s (environment) + disconnect 5s + db close 10.5s + 5s = 120.5s, + 5s, rounded up.
      expect(shell.output()).toContain("TimeoutStopSec=126s")
    }))

  it.effect("an invalid config exits 78 and writes nothing", () =>
    Effect.gen(function*() {
      const w = world()
      fs.mkdirSync(w.home)
      fs.writeFileSync(path.join(w.home, "config.yaml"), "gateway:\n  drain_timeout: soon\n")
      expect(yield* exitCode(install(options(w, "systemd"), w.runtime))).toBe(78)
      expect(fs.existsSync(path.join(w.root, "out"))).toBe(false)
    }))

  it.effect("a name no manager can carry is a usage error (64)", () =>
    Effect.gen(function*() {
      const w = world()
      expect(yield* exitCode(install(options(w, "systemd", { name: "Hermes Gateway" }), w.runtime))).toBe(64)
    }))

  it.effect("replicas: the URL's variable comes from the config, the shell's HERMES_ variable winning", () =>
    Effect.gen(function*() {
      const replicated = { replicas: Option.some("2"), sessions: Option.some("postgres"), print: true }
      const w = world()
      fs.mkdirSync(w.home)
      fs.writeFileSync(path.join(w.home, "config.yaml"), "sessions:\n  postgres:\n    url_env: FILE_URL\n")
      yield* install(options(w, "kubernetes", replicated), w.runtime)
      expect(w.output()).toContain("- name: FILE_URL\n")
      expect(w.output()).toContain("replicas: 2\n")

      const shell = world({ HERMES_SESSIONS_POSTGRES_URL_ENV: "SHELL_URL" })
      fs.mkdirSync(shell.home)
      fs.writeFileSync(path.join(shell.home, "config.yaml"), "sessions:\n  postgres:\n    url_env: FILE_URL\n")
      yield* install(options(shell, "docker", replicated), shell.runtime)
      expect(shell.output()).toContain("      SHELL_URL: \"postgresql://")
      expect(shell.output()).not.toContain("FILE_URL")
    }))

  it.effect("replicas: a bad flag is a usage error (64) before the home or the config is read", () =>
    Effect.gen(function*() {
      const w = world()
      fs.mkdirSync(w.home)
      fs.writeFileSync(path.join(w.home, "config.yaml"), "gateway:\n  drain_timeout: soon\n")
      const bad = (manager: Manager, replicas: string, sessions?: string) =>
        exitCode(install(options(w, manager, { replicas: Option.some(replicas), sessions: Option.fromNullable(sessions) }), w.runtime))
      expect(yield* bad("kubernetes", "0", "postgres")).toBe(64)
      expect(yield* bad("docker", "3")).toBe(64)
      expect(yield* bad("runit", "2", "postgres")).toBe(64)
      expect(yield* bad("kubernetes", "2", "mongodb")).toBe(64)
      expect(fs.existsSync(path.join(w.root, "out"))).toBe(false)
      expect(w.output()).toBe("")
    }))

  it.effect("run from sources instead of the bundle exits 78", () =>
    Effect.gen(function*() {
      const w = world()
      const source = path.join(w.root, "hermes.ts")
      fs.writeFileSync(source, "")
      expect(yield* exitCode(install(options(w, "systemd"), { ...w.runtime, script: source }))).toBe(78)
      expect(yield* exitCode(install(options(w, "systemd"), { ...w.runtime, script: undefined }))).toBe(78)
    }))

  it.effect("refuses to overwrite a file it did not generate, and writes none of the others", () =>
    Effect.gen(function*() {
      const w = world()
      const out = path.join(w.root, "out")
      fs.mkdirSync(out)
      fs.writeFileSync(path.join(out, "Dockerfile"), "FROM scratch\n")
      expect(yield* exitCode(install(options(w, "docker"), w.runtime))).toBe(1)
      expect(fs.readFileSync(path.join(out, "Dockerfile"), "utf8")).toBe("FROM scratch\n")
      expect(fs.existsSync(path.join(out, "compose.yaml"))).toBe(false)
    }))
})

describe("uninstall", () => {
  it.effect("removes exactly what install wrote", () =>
    Effect.gen(function*() {
      const w = world()
      const out = path.join(w.root, "out")
      yield* install(options(w, "docker"), w.runtime)
      fs.writeFileSync(path.join(out, "notes.txt"), "mine\n")
      expect(yield* exitCode(uninstall(options(w, "docker"), w.runtime))).toBe(0)
      expect(fs.readdirSync(out)).toEqual(["notes.txt"])
      expect(w.output()).toContain(`removed ${path.join(out, "Dockerfile")}`)
      expect(w.output()).toContain(`removed ${path.join(out, "compose.yaml")}`)
    }))

  it.effect("removes an s6 or runit service directory with the supervisor's runtime state in it", () =>
    Effect.gen(function*() {
      for (const manager of ["s6", "runit"] as const) {
        const w = world()
        yield* install(options(w, manager, { out: Option.none() }), w.runtime)
        const dir = path.join(w.home, "service", "hermes-gateway")
        fs.mkdirSync(path.join(dir, "supervise"))
        fs.writeFileSync(path.join(dir, "supervise", "status"), "")
        yield* uninstall(options(w, manager, { out: Option.none() }), w.runtime)
        expect(fs.existsSync(dir), manager).toBe(false)
        expect(w.output()).toContain(`removed ${dir}\n`)
      }
    }))

  it.effect("leaves a service directory that holds files of someone else's", () =>
    Effect.gen(function*() {
      const w = world()
      yield* install(options(w, "runit"), w.runtime)
      const out = path.join(w.root, "out")
      fs.mkdirSync(path.join(out, "log"))
      yield* uninstall(options(w, "runit"), w.runtime)
      expect(fs.readdirSync(out)).toEqual(["log"])
      expect(w.output()).toContain(`left ${out} (it still holds log)`)
    }))

  it.effect("nothing to remove exits 0 and says so; a foreign file is left in place", () =>
    Effect.gen(function*() {
      const w = world()
      expect(yield* exitCode(uninstall(options(w, "systemd"), w.runtime))).toBe(0)
      expect(w.output()).toMatch(/nothing to remove: no systemd definition named hermes-gateway in /)

      const out = path.join(w.root, "out")
      fs.mkdirSync(out)
      fs.writeFileSync(path.join(out, "hermes-gateway.service"), "[Service]\nExecStart=/bin/true\n")
      expect(yield* exitCode(uninstall(options(w, "systemd"), w.runtime))).toBe(0)
      expect(fs.existsSync(path.join(out, "hermes-gateway.service"))).toBe(true)
      expect(w.output()).toContain("not generated by hermes gateway install")
    }))

  it.effect("works with a broken config: which files to remove does not depend on it", () =>
    Effect.gen(function*() {
      const w = world()
      yield* install(options(w, "kubernetes"), w.runtime)
      fs.mkdirSync(w.home, { recursive: true })
      fs.writeFileSync(path.join(w.home, "config.yaml"), "gateway: [")
      const exit = yield* Effect.exit(uninstall(options(w, "kubernetes"), w.runtime))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(fs.readdirSync(path.join(w.root, "out"))).toEqual([])
    }))
})

describe("default directories", () => {
  const at = {
    env: {},
    userHome: "/home/me",
    cwd: "/work",
    home: "/home/me/.hermes",
    serviceName: "hermes-gateway"
  }
  it("are where each manager looks", () => {
    expect(defaultOutDir("systemd", at)).toBe("/home/me/.config/systemd/user")
    expect(defaultOutDir("systemd", { ...at, env: { XDG_CONFIG_HOME: "/cfg" } })).toBe("/cfg/systemd/user")
    expect(defaultOutDir("systemd", { ...at, env: { XDG_CONFIG_HOME: "relative" } })).toBe("/home/me/.config/systemd/user")
    expect(defaultOutDir("systemd-system", at)).toBe("/etc/systemd/system")
    expect(defaultOutDir("supervisord", at)).toBe("/etc/supervisor/conf.d")
    expect(defaultOutDir("s6", at)).toBe("/home/me/.hermes/service/hermes-gateway")
    expect(defaultOutDir("runit", at)).toBe("/home/me/.hermes/service/hermes-gateway")
    expect(defaultOutDir("launchd", at)).toBe("/home/me/Library/LaunchAgents")
    expect(defaultOutDir("docker", at)).toBe("/work")
    expect(defaultOutDir("kubernetes", at)).toBe("/work")
  })
})
