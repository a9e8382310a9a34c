// End-to-end: a gateway with an OTLP/HTTP endpoint sends its start-up, each turn and every shutdown
// phase (under one `shutdown` span) to a real loopback collector before it exits; a collector that
// never answers does not hold the exit; an unusable OTEL_* value exits 78 naming the variable.
import { beforeAll, describe, it } from "vitest"
import { BlackHoleCollector, FakeCollector } from "./fakes/FakeCollector.js"
import { FakeTelegram } from "./fakes/FakeTelegram.js"
import { assertBuilt, chat, defaultConfig, Sandbox, shutdownOrder, telegramConfig, telegramEnv } from "./harness.js"

beforeAll(assertBuilt)

describe("OpenTelemetry traces", () => {
  it("start-up, a turn with its attributes and every shutdown phase under `shutdown` reach the collector before the exit", async (ctx) => {
    const { expect } = ctx
    const collector = await FakeCollector.start(ctx)
    const sb = new Sandbox(ctx)
    const home = sb.home(defaultConfig() + `telemetry:\n  otlp_endpoint: ${collector.endpoint}\n`)
    const gw = sb.run(home, { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
    const port = await gw.waitRunning()
    const reply = await chat(port, "hello traces")
    expect(reply.status).toBe(200)
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })

    expect(collector.requests.map((r) => r.path)).toEqual(collector.requests.map(() => "/v1/traces"))
    const spans = collector.spans()
    const named = (name: string) => spans.filter((span) => span.name === name)
    const context = `spans: ${spans.map((s) => s.name).join(", ")}\n${gw.describe()}`

    expect(named("startup"), context).toHaveLength(1)
    const startup = named("startup")[0]!
    expect(startup.attributes["hermes.startup.outcome"]).toBe("ready")
    expect(startup.serviceName).toBe("hermes-gateway")
    expect(startup.endNanos > startup.startNanos).toBe(true)

    expect(named("turn"), context).toHaveLength(1)
    const turn = named("turn")[0]!
    expect(turn.parentSpanId).toBeUndefined()
    expect(turn.attributes).toMatchObject({
      "hermes.platform": "http",
      "hermes.session.id": reply.headers.get("x-hermes-session"),
      "hermes.turn.outcome": "completed",
      "hermes.turn.id": expect.any(String)
    })
    expect(turn.attributes["hermes.turn.agent_ms"]).toBeGreaterThanOrEqual(0)

    expect(named("shutdown"), context).toHaveLength(1)
    const shutdown = named("shutdown")[0]!
    expect(shutdown.attributes).toMatchObject({ "hermes.stop.classification": "planned", "hermes.exit_code": 0 })
    const phases = spans
      .filter((span) => span.parentSpanId === shutdown.spanId)
      .sort((a, b) => (a.startNanos < b.startNanos ? -1 : a.startNanos > b.startNanos ? 1 : 0))
    expect(phases.map((span) => span.name), context).toEqual(shutdownOrder.map((phase) => `shutdown.${phase}`))
    for (const phase of phases) {
      expect(phase.traceId).toBe(shutdown.traceId)
      expect(phase.attributes["hermes.phase.outcome"], phase.name).toBe("ok")
      expect(phase.startNanos >= shutdown.startNanos && phase.endNanos <= shutdown.endNanos, phase.name).toBe(true)
    }
  })

  it("the standard OTEL_* variables alone turn traces on: protobuf to <endpoint>/v1/traces as OTEL_SERVICE_NAME", async (ctx) => {
    const { expect } = ctx
    const collector = await FakeCollector.start(ctx)
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home, { OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.endpoint}/`, OTEL_SERVICE_NAME: "hermes-e2e-service" })
    await gw.waitRunning()
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
    expect(collector.requests.length, gw.describe()).toBeGreaterThan(0)
    for (const request of collector.requests) {
      expect(request.path).toBe("/v1/traces")
      expect(request.contentType).toBe("application/x-protobuf")
    }
    // Protobuf keeps strings as they are: the names can be found in the bytes without a decoder.
    const bytes = Buffer.concat(collector.requests.map((r) => r.body))
    for (const text of ["hermes-e2e-service", "startup", "shutdown", ...shutdownOrder.map((phase) => `shutdown.${phase}`)]) {
      expect(bytes.includes(Buffer.from(text)), text).toBe(true)
    }
  })

  it("a Telegram turn is traced, and the bot token (part of every Bot API URL) is nowhere in what the collector got", async (ctx) => {
    const { expect } = ctx
    const collector = await FakeCollector.start(ctx)
    const tg = await FakeTelegram.start(ctx)
    const sb = new Sandbox(ctx)
    const home = sb.home(telegramConfig({ botApi: tg }) + `telemetry:\n  otlp_endpoint: ${collector.endpoint}\n`)
    const gw = sb.run(home, { ...telegramEnv(tg.token), OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })
    await gw.waitRunning()
    tg.push({ chatId: 111, text: "hello" })
    await tg.waitFor(() => tg.repliesTo(111).length > 0, 15_000, "a reply in chat 111")
    gw.signal("SIGINT")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })

    const turns = collector.spans().filter((span) => span.name === "turn")
    expect(turns.map((span) => span.attributes["hermes.platform"]), gw.describe()).toContain("telegram")
    expect(turns.find((span) => span.attributes["hermes.platform"] === "telegram")?.attributes["hermes.turn.outcome"]).toBe("completed")
    const sent = Buffer.concat(collector.requests.map((r) => r.body)).toString("utf8")
    expect(sent.length).toBeGreaterThan(0)
    expect(sent.includes(tg.token), "the bot token reached the collector").toBe(false)
  })

  it("a collector that accepts the connection and never answers does not hold a planned stop: exit 0", async (ctx) => {
    const { expect } = ctx
    const hole = await BlackHoleCollector.start(ctx)
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${hole.endpoint}/v1/traces` })
    const port = await gw.waitRunning()
    expect((await chat(port, "into the void")).status).toBe(200)
    gw.signal("SIGINT")
    // Unbounded, the last export would wait for an answer for minutes; the flush is bounded to 1s.
    expect(await gw.waitExit(20_000)).toEqual({ code: 0, signal: null })
    expect(hole.connections, gw.describe()).toBeGreaterThan(0)
    expect(gw.stderr).toContain("gateway exiting code=0")
    // The log of a gateway not on a terminal is logfmt, without fiber ids at info.
    expect(gw.stderr).toMatch(/^timestamp=\S+ level=INFO message="gateway running pid=\d+"$/m)
    expect(gw.stderr).not.toContain(" fiber=#")
  })

  it("an unusable OTEL_* value exits 78 with one line naming the variable", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const badUrl = await sb.cli(["gateway", "run", "--home", home.dir], { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })
    expect(badUrl.code).toBe(78)
    expect(badUrl.stderr).toContain(`hermes: OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL, got "collector:4318"`)
    expect(badUrl.stderr).not.toMatch(/\n\s+at /)
    const grpc = await sb.cli(["gateway", "run", "--home", home.dir], {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4317",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"
    })
    expect(grpc.code).toBe(78)
    expect(grpc.stderr).toContain("OTEL_EXPORTER_OTLP_PROTOCOL: \"grpc\" is not supported")
  })
})
