// End-to-end: start-up (CONTRACT 2, 3.1, 5, 7): one gateway per home, crash detection of the
// previous life, configuration errors, an occupied port, and a signal while still starting.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, defaultConfig, type Gateway, Sandbox, sleep } from "./harness.js"

beforeAll(assertBuilt)

describe.concurrent("start-up", () => {
  it("9. SIGKILL while running: the next run reports the previous life died without shutting down", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const first = sb.run(home, {}, "first gateway")
    await first.waitRunning()
    first.signal("SIGKILL")
    expect(await first.waitExit()).toEqual({ code: null, signal: "SIGKILL" })
    expect(fs.existsSync(home.cleanShutdown)).toBe(false)

    // The lock died with it: nothing blocks the next start.
    const second = sb.run(home, {}, "second gateway")
    await second.waitRunning()
    expect(second.stderr).toMatch(new RegExp(`previous life \\(pid ${first.pid}\\) died without shutting down`))
    const start = home.lifecycle().filter((r) => r.event === "start").at(-1)!
    expect(start).toMatchObject({
      pid: second.pid,
      previous_life: { verdict: "died_without_shutdown", pid: first.pid, last_state: "running" }
    })

    second.signal("SIGINT")
    expect(await second.waitExit()).toEqual({ code: 0, signal: null })
    // A third start after an orderly stop sees an orderly previous life.
    const third = sb.run(home, {}, "third gateway")
    await third.waitRunning()
    expect(third.stderr).toMatch(/previous life \(pid \d+\) shut down cleanly/)
    expect(third.stderr).not.toMatch(/died without shutting down/)
    third.signal("SIGINT")
    expect(await third.waitExit()).toEqual({ code: 0, signal: null })
  })

  it("10. a second run on a live home exits 69 naming the live pid, and leaves the first alone", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const first = sb.run(home, {}, "first gateway")
    await first.waitRunning()
    const pidFileBefore = fs.readFileSync(home.pidFile, "utf8")

    const second = sb.run(home, {}, "second gateway")
    const exit = await second.waitExit()
    expect(exit, second.describe()).toEqual({ code: 69, signal: null })
    expect(second.stderr).toContain(`pid ${first.pid}`)

    expect(first.alive).toBe(true)
    expect(fs.readFileSync(home.pidFile, "utf8")).toBe(pidFileBefore)
    expect(home.readState()).toMatchObject({ gateway_state: "running", pid: first.pid })
    first.signal("SIGINT")
    expect(await first.waitExit()).toEqual({ code: 0, signal: null })
  })

  const badConfigs: ReadonlyArray<{ name: string; config: string; env?: Record<string, string>; mention: ReadonlyArray<string> }> = [
    { name: "unknown key", config: "gateway: {drain_timeot: 5s}\n", mention: ["gateway.drain_timeot"] },
    { name: "wrong type", config: "adapters: {http: {port: \"abc\"}}\n", mention: ["adapters.http.port"] },
    { name: "out of range", config: "adapters: {http: {port: 70000}}\n", mention: ["adapters.http.port"] },
    {
      name: "bad environment value",
      config: defaultConfig(),
      env: { HERMES_GATEWAY_DRAIN_TIMEOUT: "soon" },
      mention: ["HERMES_GATEWAY_DRAIN_TIMEOUT"]
    },
    {
      name: "non-loopback host without api_key",
      config: "adapters: {http: {host: 0.0.0.0, port: 0}}\n",
      mention: ["adapters.http.api_key", "0.0.0.0"]
    },
    // Hostile input (issue "Hostile input", items 5, 6, 10, 11): refused before any timer is armed.
    { name: "drain_timeout 30d", config: "gateway: {drain_timeout: 30d}\n", mention: ["gateway.drain_timeout", "at most 1h, got 30d"] },
    {
      name: "drain_timeout 99999999999999999999999s",
      config: "gateway: {drain_timeout: 99999999999999999999999s}\n",
      mention: ["gateway.drain_timeout", "at most 1h"]
    },
    { name: "drain_timeout 1000000h", config: "gateway: {drain_timeout: 1000000h}\n", mention: ["gateway.drain_timeout", "at most 1h"] },
    {
      name: "HERMES_GATEWAY_DRAIN_TIMEOUT=30d",
      config: defaultConfig(),
      env: { HERMES_GATEWAY_DRAIN_TIMEOUT: "30d" },
      mention: ["HERMES_GATEWAY_DRAIN_TIMEOUT: must be at most 1h, got 30d"]
    },
    { name: "marker_ttl 0", config: "gateway: {marker_ttl: 0}\n", mention: ["gateway.marker_ttl", "between 1s and 1h"] },
    {
      name: "config.yaml nested 1,200 levels deep",
      config: `gateway: ${"[".repeat(1200)}${"]".repeat(1200)}\n`,
      mention: ["config.yaml: nests deeper than 64 levels"]
    },
    {
      name: "whitespace api_key on a non-loopback host",
      config: "adapters: {http: {host: 0.0.0.0, port: 0, api_key: \" \"}}\n",
      mention: ["adapters.http.api_key", "whitespace"]
    },
    {
      name: "short api_key on a non-loopback host",
      config: "adapters: {http: {host: 0.0.0.0, port: 0, api_key: \"0123456789 abcd\"}}\n",
      mention: ["adapters.http.api_key", "at least 16 characters"]
    },
    {
      name: "no adapter enabled",
      config: "adapters: {http: {enabled: false}}\n",
      mention: ["adapters.http.enabled: no adapter is enabled"]
    }
  ]
  for (const bad of badConfigs) {
    it(`11. bad configuration (${bad.name}) exits 78 naming the key`, async (ctx) => {
      const { expect } = ctx
      const sb = new Sandbox(ctx)
      const home = sb.home(bad.config)
      const gw = sb.run(home, bad.env ?? {})
      const exit = await gw.waitExit()
      expect(exit, gw.describe()).toEqual({ code: 78, signal: null })
      for (const text of bad.mention) expect(gw.stderr).toContain(text)
      expect(gw.stderr).not.toMatch(/internal error|RangeError|^\s+at /m)
      // Refused before anything was claimed.
      expect(fs.existsSync(home.pidFile)).toBe(false)
      expect(fs.existsSync(home.state)).toBe(false)
    })
  }

  it("12. the configured port is in use: exit 69, startup_failed", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: 0 }, resolve))
    try {
      const port = (blocker.address() as net.AddressInfo).port
      const home = sb.home(`adapters:\n  http:\n    host: 127.0.0.1\n    port: ${port}\n`)
      const gw = sb.run(home)
      const exit = await gw.waitExit()
      expect(exit, gw.describe()).toEqual({ code: 69, signal: null })
      expect(gw.stderr).toMatch(/address already in use|EADDRINUSE/)
      expect(gw.stderr).toContain(String(port))
      expect(home.readState()).toMatchObject({ gateway_state: "startup_failed", exit_code: 69 })
      expect(home.readState()!.exit_reason).toMatch(/address already in use|EADDRINUSE/)
      expect(fs.existsSync(home.pidFile)).toBe(false)
    } finally {
      blocker.close()
    }
  })

  it("16b. config.yaml as a FIFO: run and doctor refuse it at once, without waiting for a writer", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home("")
    execFileSync("mkfifo", [home.config])
    try {
      const gw = sb.run(home)
      const exit = await gw.waitExit()
      expect(exit, gw.describe()).toEqual({ code: 78, signal: null })
      expect(gw.stderr.trim()).toBe(`hermes: ${home.config} is a named pipe (FIFO), not a regular file: replace it with a YAML file`)
      expect(fs.existsSync(home.pidFile)).toBe(false)

      const doctor = await sb.cli(["gateway", "doctor", "--home", home.dir])
      expect(doctor.code, doctor.stdout + doctor.stderr).toBe(1)
      expect(doctor.stdout).toMatch(/FAIL +config +.*is a named pipe \(FIFO\), not a regular file/)
    } finally {
      // Were a read to block on the FIFO again, opening it for writing and closing it ends that read.
      try {
        fs.closeSync(fs.openSync(home.config, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK))
      } catch {
        // nobody is reading it: the expected case
      }
    }
  })

  it("16. SIGTERM during start-up never exits 0, and the home stays usable", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    // Nine starts in a row: the respawn-storm breaker (tested on its own) would make the last ones wait.
    const home = sb.home(`gateway:\n  respawn_storm:\n    window: 0\n${defaultConfig()}`)
    const outcomes: Array<string> = []
    const check = async (label: string, signalAt: (gw: Gateway) => Promise<void>) => {
      const gw = sb.run(home, {}, `gateway signalled ${label}`)
      await signalAt(gw)
      gw.signal("SIGTERM")
      const exit = await gw.waitExit()
      const reached = gw.stderr.includes("gateway running")
        ? "running"
        : gw.stderr.includes("stop requested during start-up")
        ? "abandoned"
        : gw.stderr.includes("hermes gateway starting")
        ? "starting"
        : "before-runner"
      outcomes.push(`${label}:${reached}:${exit.code ?? exit.signal}`)
      expect(exit.code, gw.describe()).not.toBe(0)
      if (exit.code === null) expect(exit.signal, gw.describe()).toBe("SIGTERM") // before Node ran our handlers
      // Whether or not the gateway had claimed the signal yet, the table applies: unplanned, 1.
      else expect(exit.code, gw.describe()).toBe(1)
      expect(gw.stderr).not.toMatch(/internal error/)
    }
    // The moments of the signal are the thing under test: each sleep places a SIGTERM in start-up.
    for (const ms of [0, 60]) await check(`${ms}ms after spawn`, () => sleep(ms))
    for (const ms of [0, 10, 25, 50, 80, 120]) {
      await check(`${ms}ms after the first log line`, async (gw) => {
        await gw.waitLog("hermes gateway starting")
        await sleep(ms)
      })
    }
    console.log(`[16] start-up signal outcomes: ${outcomes.join(" ")}`)

    const after = sb.run(home, {}, "gateway after the interrupted starts")
    await after.waitRunning()
    after.signal("SIGINT")
    expect(await after.waitExit()).toEqual({ code: 0, signal: null })
    expect(fs.existsSync(home.pidFile)).toBe(false)
  })

  it("start-up's garbage is collected once, shortly after ready, by the running gateway itself", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const gw = sb.run(sb.home(), { HERMES_LOG_LEVEL: "debug" })
    await gw.waitRunning()
    await gw.waitLog(/start-up garbage collected took=\d+\.\dms heap_used=\d+\.\d→\d+\.\dMB/)
    const [, before, after] = /heap_used=(\d+\.\d)→(\d+\.\d)MB/.exec(gw.stderr)!
    expect(Number(after)).toBeLessThan(Number(before))
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
    expect(gw.stderr.match(/start-up garbage/g)).toHaveLength(1)
  })
})
