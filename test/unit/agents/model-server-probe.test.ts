// doctor's probe of the model server: GET <base_url>/models with the key as a bearer token, every
// outcome a ModelProbe (never a failure), and no credential in anything it prints.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { modelIdsOf, probeModelServer, shownUrl } from "../../../src/agents/ModelServerProbe.js"
import type { OpenAiOptions } from "../../../src/agents/OpenAiAgent.js"

const optionsFor = (baseUrl: string, key?: string): OpenAiOptions => ({
  baseUrl,
  model: "m",
  apiKey: key === undefined ? Option.none() : Option.some(Redacted.make(key)),
  timeout: Duration.seconds(5),
  maxContextMessages: 40
})

/** A loopback server answering every request with `respond`; closed when the effect ends. */
const withServer = <A>(
  respond: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  use: (baseUrl: string) => Effect.Effect<A>
) =>
  Effect.acquireUseRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer(respond)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => use(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`),
    (server) => Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
  )

describe("probeModelServer", () => {
  it.effect("sends GET /models with the key as a bearer token and reads the model list", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const probe = yield* withServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization}`)
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [{ id: "m" }, { id: "n" }] }))
      }, (url) => probeModelServer(optionsFor(url, "sk-secret"), "MODEL_KEY"))
      expect(seen).toEqual(["GET /v1/models Bearer sk-secret"])
      expect(probe._tag).toBe("Answered")
      if (probe._tag === "Answered") expect(probe.models).toEqual(Option.some(["m", "n"]))
    }))

  it.effect("a refused key names the variable, never its value", () =>
    Effect.gen(function*() {
      const probe = yield* withServer(
        (_req, res) => res.writeHead(401).end("no"),
        (url) => probeModelServer(optionsFor(url, "sk-secret"), "MODEL_KEY")
      )
      expect(probe).toMatchObject({ _tag: "Refused", reason: "answered 401: it refused the key in MODEL_KEY" })
      expect(JSON.stringify(probe)).not.toContain("sk-secret")
    }))

  it.effect("a body that is not a model list still counts as an answer", () =>
    Effect.gen(function*() {
      const probe = yield* withServer(
        (_req, res) => res.writeHead(200).end("hello"),
        (url) => probeModelServer(optionsFor(url), null)
      )
      expect(probe).toMatchObject({ _tag: "Answered", models: Option.none() })
    }))

  it.effect("a base_url with credentials is refused without a request, and shown without them", () =>
    Effect.gen(function*() {
      const probe = yield* probeModelServer(optionsFor("http://user:pass@127.0.0.1:9/v1"), null)
      expect(probe._tag).toBe("Refused")
      expect(JSON.stringify(probe)).not.toContain("user:pass")
      expect(probe.url).toBe("http://127.0.0.1:9/v1/models")
    }))
})

describe("modelIdsOf and shownUrl", () => {
  it("reads only string ids of an OpenAI-style list", () => {
    expect(modelIdsOf({ data: [{ id: "a" }, { id: 3 }, null, "b"] })).toEqual(Option.some(["a"]))
    expect(modelIdsOf({ models: [] })).toEqual(Option.none())
    expect(modelIdsOf(null)).toEqual(Option.none())
  })

  it("drops user and password, leaves other URLs alone", () => {
    expect(shownUrl("https://u:p@example.com/v1/models")).toBe("https://example.com/v1/models")
    expect(shownUrl("http://127.0.0.1:11434/v1/models")).toBe("http://127.0.0.1:11434/v1/models")
  })
})
