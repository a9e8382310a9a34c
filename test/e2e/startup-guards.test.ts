// Guards around start-up, end to end with the built CLI: the respawn-storm breaker (quick starts
// recorded in <home>/starts.json make the next start wait, and a stop during the wait ends it at
// once), one Telegram poller per bot token across homes, and the start-up watchdog (lock to ready
// longer than gateway.startup_timeout: record, exit 75, even with the event loop blocked).
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, it, type TestContext } from "vitest"
import { FakeTelegram } from "./fakes/FakeTelegram.js"
import { assertBuilt, Sandbox, telegramConfig, telegramEnv } from "./harness.js"

beforeAll(assertBuilt)

/** A TCP port held by the test, so a gateway configured for it fails to start (69) after its lock. */
const busyPort = async (ctx: TestContext): Promise<number> => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: 0 }, resolve))
  ctx.onTestFinished(() => void blocker.close())
  return (blocker.address() as net.AddressInfo).port
}

/** An HTTP server that takes every request and never answers it (a Bot API that hangs on getMe). */
const silentServer = async (ctx: TestContext): Promise<string> => {
  const server = http.createServer(() => {})
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve))
  ctx.onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
}

const startsOf = (home: string): Array<string> => {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, "starts.json"), "utf8")).starts
  } catch {
    return []
  }
}

describe.concurrent("respawn-storm breaker", () => {
  it("after more than max_starts quick starts the next one waits, findable and stoppable: a planned stop exits 0 at once, an unmarked SIGTERM 1", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const port = await busyPort(ctx)
    const home = sb.home([
      "gateway:",
      "  respawn_storm:",
      "    max_starts: 5",
      "    window: 10min",
      "adapters:",
      "  http:",
      "    host: 127.0.0.1",
      `    port: ${port}`,
      ""
    ].join("\n"))
    // Six starts that each fail fast after the lock (the port is taken): recorded, never delayed.
    for (let i = 1; i <= 6; i++) {
      const gw = sb.run(home, {}, `start ${i}`)
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: 69, signal: null })
      expect(gw.stderr).not.toContain("respawn storm")
      expect(startsOf(home.dir)).toHaveLength(i)
    }

    // The seventh waits 10min / 5 = 2min before doing anything, as a gateway `stop` can find.
    const seventh = sb.run(home, {}, "start 7")
    await seventh.waitLog(/respawn storm: 6 starts within 10min .*max_starts=5.*waiting 2min/, 30_000)
    expect(home.readPidFile()?.pid).toBe(seventh.pid)
    expect(home.readState()).toMatchObject({ gateway_state: "starting", pid: seventh.pid })
    const stopped = Date.now()
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect(await seventh.waitExit(), seventh.describe()).toEqual({ code: 0, signal: null })
    expect(Date.now() - stopped).toBeLessThan(60_000) // far below the 2min wait, however loaded the machine
    expect(seventh.stderr).not.toMatch(/EADDRINUSE|address already in use/) // nothing was started
    expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })

    // The eighth waits longer (doubled); a SIGTERM nobody announced still means "unplanned": 1.
    const eighth = sb.run(home, {}, "start 8")
    await eighth.waitLog(/respawn storm: 7 starts within 10min .*waiting 4min/, 30_000)
    eighth.signal("SIGTERM")
    expect(await eighth.waitExit(), eighth.describe()).toEqual({ code: 1, signal: null })
    expect(startsOf(home.dir)).toHaveLength(8)
  })

  it("a garbled starts.json is treated as empty and rewritten; the start goes ahead", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    fs.writeFileSync(path.join(home.dir, "starts.json"), "{\"starts\": [\"2026-")
    const gw = sb.run(home)
    await gw.waitRunning()
    expect(gw.stderr).toMatch(/starts\.json is not valid JSON.*treated as empty/)
    expect(startsOf(home.dir)).toHaveLength(1)
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
  })
})

describe.concurrent("one Telegram poller per bot token", () => {
  it("a second home with the same token exits 69 naming the first home and pid; once the first stops, it starts", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const tg = await FakeTelegram.start(ctx)
    const first = sb.home(telegramConfig({ botApi: tg }))
    const second = sb.home(telegramConfig({ botApi: tg }))
    const a = sb.run(first, telegramEnv(tg.token), "first")
    await a.waitRunning()

    const b = sb.run(second, telegramEnv(tg.token), "second")
    expect(await b.waitExit(), b.describe()).toEqual({ code: 69, signal: null })
    expect(b.stderr).toContain(`home ${first.dir} (pid ${a.pid})`)
    expect(b.stderr).toContain("TELEGRAM_BOT_TOKEN")
    expect(b.stderr).not.toContain(tg.token)
    expect(second.readState()).toMatchObject({ gateway_state: "startup_failed", exit_code: 69 })
    expect(a.alive).toBe(true)

    const stop = await sb.cli(["gateway", "stop", "--home", first.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect(await a.waitExit()).toEqual({ code: 0, signal: null })
    const again = sb.run(second, telegramEnv(tg.token), "second again")
    await again.waitRunning()
    expect(second.readState()?.platforms?.telegram?.state).toMatch(/connected|polling/)
    again.signal("SIGINT")
    expect(await again.waitExit()).toEqual({ code: 0, signal: null })
    expect(tg.conflicts).toBe(0)
  })
})

describe.concurrent("start-up watchdog", () => {
  it("a start-up held longer than gateway.startup_timeout (a Bot API that never answers getMe) exits 75 and leaves a record", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const botApi = await silentServer(ctx)
    const home = sb.home(telegramConfig({ botApi, gatewayExtra: ["startup_timeout: 2s", "adapter_connect_timeout: 10min"] }))
    const gw = sb.run(home, telegramEnv("1:hanging"))
    expect(await gw.waitExit(30_000), gw.describe()).toEqual({ code: 75, signal: null })
    expect(gw.stderr).toContain("start-up did not reach ready within 2000ms")
    const record = home.lifecycle().find((r) => r.event === "startup_timeout")
    expect(record, JSON.stringify(home.lifecycle())).toMatchObject({
      event: "startup_timeout",
      pid: gw.pid,
      startup_timeout_ms: 2000,
      exit_code: 75
    })
    // Usually waiting on getMe; on a loaded machine opening the SessionDB alone may take 2s.
    expect(record!.phase).toMatch(/^startup:(session_db|connect_adapters)$/)
  })

  it("fires from its own thread even when the event loop is blocked", async (ctx) => {
    const { expect } = ctx
    const fixture = fileURLToPath(new URL("./fixtures/blocked-startup.ts", import.meta.url))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-startup-watchdog-"))
    const log = path.join(dir, "logs", "lifecycle.jsonl")
    const child = spawn(process.execPath, ["--import", "tsx", fixture, log], { stdio: ["ignore", "ignore", "pipe"] })
    ctx.onTestFinished(() => {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    expect(code, stderr).toBe(75)
    expect(stderr).toContain("blocking the event loop")
    const record = JSON.parse(fs.readFileSync(log, "utf8").trim().split("\n").pop()!)
    expect(record).toMatchObject({ event: "startup_timeout", startup_timeout_ms: 300, phase: "startup:connect_adapters", exit_code: 75 })
  })

  it("startup_timeout below 1s is refused (78) naming the key", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home("gateway:\n  startup_timeout: 500ms\n")
    const gw = sb.run(home)
    expect(await gw.waitExit()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toContain("gateway.startup_timeout")
  })
})
