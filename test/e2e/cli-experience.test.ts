// End-to-end: what an operator reads: --help, a mistyped verb, a bad value, --log-level (flag >
// env > config) and the one INFO line per finished turn.
import { spawn } from "node:child_process"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, chat, defaultConfig, Gateway, hermesJs, type Home, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

/** `hermes gateway run --home DIR ...extra`, spawned like Sandbox.run and killed at cleanup. */
const runWith = (sb: Sandbox, home: Home, extra: ReadonlyArray<string>, env: Record<string, string>): Gateway => {
  // Like the sandbox's own: nothing of the host's HERMES_* leaks in.
  const host = Object.entries(process.env).filter(([key]) => !key.startsWith("HERMES_") && key !== "NODE_OPTIONS")
  const child = spawn(process.execPath, [hermesJs, "gateway", "run", "--home", home.dir, ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...Object.fromEntries(host), ...env }
  })
  sb.adopt(child.pid!)
  return new Gateway(child, home, `gateway ${extra.join(" ")}`)
}

const stopAndCollect = async (gw: Gateway): Promise<string> => {
  await gw.waitRunning()
  gw.signal("SIGINT")
  const exit = await gw.waitExit()
  if (exit.code !== 0) throw new Error(`exit ${JSON.stringify(exit)}\n${gw.describe()}`)
  return gw.stderr
}

describe.concurrent("the command line as an operator reads it", () => {
  it("`run --help` starts with its usage line, fits 100 columns and is plain text in a pipe", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const result = await sb.cli(["gateway", "run", "--help"])
    expect(result.code).toBe(0)
    expect(result.stdout.split("\n")[0]).toBe("Usage: hermes gateway run [options]")
    for (const line of result.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100)
    expect(result.stdout).not.toMatch(/\u001b|This setting is optional|--wizard/)
    const top = await sb.cli(["--help"])
    expect(top.code).toBe(0)
    expect(top.stdout).not.toContain("gateway gateway")
  })

  it("a mistyped verb exits 64 naming it and the closest verb", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const result = await sb.cli(["gateway", "rnu"])
    expect(result.code).toBe(64)
    expect(result.stderr).toBe("hermes: unknown command 'rnu'; did you mean 'run'?\n")
  })

  it("a bad option value exits 64 in plain, correct English", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const result = await sb.cli(["gateway", "report", "--last", "abc"])
    expect(result.code).toBe(64)
    expect(result.stderr).toContain("not an integer")
    expect(result.stderr).not.toMatch(/ a integer|\u001b/)
    expect(result.stderr).toContain("hermes: run 'hermes gateway report --help' for usage")
  })

  it("--log-level debug takes effect and wins over $HERMES_LOG_LEVEL", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const stderr = await stopAndCollect(runWith(sb, sb.home(), ["--log-level", "debug"], { HERMES_LOG_LEVEL: "info" }))
    expect(stderr).toContain("shutdown context details")
  })

  it("--log-level warning silences INFO although $HERMES_LOG_LEVEL says debug", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const stderr = await stopAndCollect(runWith(sb, sb.home(), ["--log-level=warning"], { HERMES_LOG_LEVEL: "debug" }))
    expect(stderr).not.toContain("shutdown context")
  })

  it("$HERMES_LOG_LEVEL wins over log.level in the config", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(defaultConfig() + "log:\n  level: debug\n")
    const stderr = await stopAndCollect(runWith(sb, home, [], { HERMES_LOG_LEVEL: "info" }))
    expect(stderr).toContain("shutdown context")
    expect(stderr).not.toContain("shutdown context details")
  })

  it("the shutdown report keeps the whole context the short INFO line summarises", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const stderr = await stopAndCollect(runWith(sb, home, [], {}))
    const info = stderr.split("\n").find((line) => line.includes("shutdown context"))!
    expect(info).not.toContain("parent_cmdline")
    const report = home.lifecycle().filter((r) => r.event === "shutdown").at(-1)!
    expect(report.context).toMatchObject({ signal: "SIGINT", pid: expect.any(Number), parent_cmdline: expect.any(String) })
  })

  it("each finished turn is one INFO line: platform, session, outcome, duration", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const gw = sb.run(sb.home())
    const port = await gw.waitRunning()
    const reply = await chat(port, "hello there")
    expect(reply.status).toBe(200)
    await gw.waitLog(/turn finished platform=http session=\S+ turn=\S+ outcome=completed duration=\d/)
    expect(gw.stderr).not.toContain("hello there")
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
    // In a pipe every log line is plain logfmt, untouched by the CLI's rewriting of usage errors.
    for (const line of gw.stderr.split("\n").filter((l) => l !== "")) expect(line).toMatch(/^timestamp=\S+ level=[A-Z]+ /)
  })
})
