import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { recordRefusal } from "../../../../src/metrics/GatewayMetrics.js"
import { startAdapter, startServing } from "./AdapterFixture.js"
import { postJson, send } from "./RawHttp.js"

const hello = { messages: [{ role: "user", content: "hello there" }] }

const sampleValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("HttpAdapter GET /metrics", () => {
  it.scopedLive("needs the bearer key when api_key is set and answers the Prometheus text format", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({}, { apiKey: Redacted.make("s3cret") })
      // The registry is the process's: a series of this test's own makes the body non-empty.
      yield* recordRefusal("route-test", "storage")
      const refused = yield* send(url, { path: "/metrics" })
      expect(refused.status).toBe(401)
      expect(refused.body).not.toContain("hermes_")
      expect((yield* send(url, { path: "/metrics", headers: { authorization: "Bearer wrong" } })).status).toBe(401)

      const auth = { authorization: "Bearer s3cret" }
      const metrics = yield* send(url, { path: "/metrics", headers: auth })
      expect(metrics.status).toBe(200)
      expect(metrics.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8")
      expect(metrics.body).toMatch(/^# (HELP|TYPE) hermes_/)
      expect(metrics.body).toContain(`hermes_messages_refused_total{platform="route-test",reason="storage"} 1\n`)
      const head = yield* send(url, { method: "HEAD", path: "/metrics", headers: auth })
      expect(head.status).toBe(200)
      expect((yield* send(url, { method: "POST", path: "/metrics", headers: auth, body: "" })).status).toBe(405)
    }))

  it.scopedLive("counts a chat completion refused while the gateway is starting", () =>
    Effect.gen(function*() {
      const { url } = yield* startAdapter()
      const series = `hermes_messages_refused_total{platform="http",reason="starting"}`
      const before = sampleValue((yield* send(url, { path: "/metrics" })).body, series) ?? 0
      expect((yield* postJson(url, "/v1/chat/completions", hello)).status).toBe(503)
      expect(sampleValue((yield* send(url, { path: "/metrics" })).body, series)).toBe(before + 1)
    }))
})
