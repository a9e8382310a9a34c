import { afterEach, describe, expect, it } from "vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Agent, AgentError, type AgentReport, type AgentRequest, type ChatMessage } from "../../../src/agents/Agent.js"
import { contextWindow, openAiAgent, openAiOptionsFrom, type OpenAiOptions } from "../../../src/agents/OpenAiAgent.js"
import { defaultConfig } from "../../../src/config/GatewayConfig.js"
import { ConfigError, resolveConfig } from "../../../src/config/LoadConfig.js"

// ---------------------------------------------------------------------------------------------
// A fake OpenAI-compatible server: each test says how it answers; it records what it was sent.

interface Received {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: any
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, received: Received) => void

let servers: Array<http.Server> = []
afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  servers = []
})

const fakeServer = async (handler: Handler) => {
  const received: Array<Received> = []
  const server = http.createServer((req, res) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (part) => (text += part))
    req.on("end", () => {
      const entry = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: JSON.parse(text || "null") }
      received.push(entry)
      handler(req, res, entry)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return { received, baseUrl: `http://127.0.0.1:${port}/v1`, port }
}

const sse = (res: http.ServerResponse) => res.writeHead(200, { "content-type": "text/event-stream" })
const delta = (content: string) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content } }] })}\n\n`

const options = (baseUrl: string, overrides: Partial<OpenAiOptions> = {}): OpenAiOptions => ({
  baseUrl,
  model: "test-model",
  apiKey: Option.none(),
  timeout: Duration.seconds(5),
  maxContextMessages: 40,
  ...overrides
})

const user = (content: string): ChatMessage => ({ role: "user", content })
const request = (messages: ReadonlyArray<ChatMessage> = [user("hi")]): AgentRequest => ({ sessionId: "s1", messages })

const respond = (opts: OpenAiOptions, req: AgentRequest = request()) =>
  Effect.flatMap(Agent, (agent) => Stream.runCollect(agent.respond(req))).pipe(
    Effect.map((chunks) => Chunk.toReadonlyArray(chunks)),
    Effect.provide(openAiAgent(opts))
  )

const failureOf = async (opts: OpenAiOptions): Promise<AgentError> => {
  const exit = await Effect.runPromiseExit(respond(opts))
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  // A failure, never a defect: the turn supervisor turns it into a failed turn.
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  expect(error).toBeInstanceOf(AgentError)
  return error as AgentError
}

// ---------------------------------------------------------------------------------------------

describe("openai agent", () => {
  it("streams the answer: chunks concatenate to the reply", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant" } }] })}\n\n`)
      res.write(delta("Hello"))
      res.write(": keep-alive comment\n\n")
      res.write(delta(", wor"))
      res.write(delta("ld"))
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`)
      res.end("data: [DONE]\n\n")
    })
    const chunks = await Effect.runPromise(
      respond(options(server.baseUrl, { apiKey: Option.some(Redacted.make("sk-test")) }))
    )
    expect(chunks).toEqual(["Hello", ", wor", "ld"])
    expect(chunks.join("")).toBe("Hello, world")
    const [sent] = server.received
    expect(sent?.method).toBe("POST")
    expect(sent?.url).toBe("/v1/chat/completions")
    expect(sent?.headers.authorization).toBe("Bearer sk-test")
    expect(sent?.body).toEqual({
      model: "test-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true }
    })
  })

  it("forwards the client's generation parameters to the model server, and cannot be made to replace model, messages or stream", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      res.end(delta("{}") + "data: [DONE]\n\n")
    })
    const generation = {
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      max_completion_tokens: 40,
      stop: ["\n\n", "END"],
      seed: 7,
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
      presence_penalty: 0.5,
      frequency_penalty: -0.5
    } as const
    const hostile = { ...generation, model: "other", stream: false } as unknown as AgentRequest["generation"]
    await Effect.runPromise(respond(options(server.baseUrl), { ...request(), generation: hostile }))
    expect(server.received[0]?.body).toEqual({
      ...generation,
      model: "test-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true }
    })
  })

  it("reports the model server's model, finish reason and usage (the last chunk's usage) to the turn", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      const chunk = (body: object) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "served-model-2026", ...body })}\n\n`
      res.write(chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" } }] }))
      res.write(chunk({ choices: [{ index: 0, delta: { content: "Hi" } }] }))
      res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: "length" }] }))
      res.write(chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } }))
      res.end("data: [DONE]\n\n")
    })
    const reports: Array<AgentReport> = []
    const chunks = await Effect.runPromise(respond(options(server.baseUrl), {
      ...request(),
      onReport: (report) => Effect.sync(() => reports.push(report))
    }))
    expect(chunks).toEqual(["Hi"])
    expect(reports[0]).toEqual({ model: "served-model-2026" })
    expect(Object.assign({}, ...reports)).toEqual({
      model: "served-model-2026",
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
      finishReason: "length"
    })
  })

  it("handles events split across network writes and CRLF line endings", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      const text = delta("one ").replace(/\n/g, "\r\n") + delta("two")
      const cut = Math.floor(text.length / 2)
      res.write(text.slice(0, cut))
      setTimeout(() => res.end(text.slice(cut) + "data: [DONE]\n\n"), 20)
    })
    expect((await Effect.runPromise(respond(options(server.baseUrl)))).join("")).toBe("one two")
  })

  it("sends at most max_context_messages, system messages first", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      res.end(delta("ok") + "data: [DONE]\n\n")
    })
    const messages: Array<ChatMessage> = [
      { role: "system", content: "be brief" },
      ...Array.from({ length: 12 }, (_, i): ChatMessage => ({ role: i % 2 === 0 ? "user" : "assistant", content: `m${i}` })),
      { role: "user", content: "last" }
    ]
    await Effect.runPromise(respond(options(server.baseUrl, { maxContextMessages: 4 }), request(messages)))
    const sent = server.received[0]?.body.messages as Array<ChatMessage>
    expect(sent.length).toBeLessThanOrEqual(4)
    expect(sent).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "m10" },
      { role: "assistant", content: "m11" },
      { role: "user", content: "last" }
    ])
  })

  it("contextWindow keeps the newest message even when system messages fill the window", () => {
    const sys = (n: number): ChatMessage => ({ role: "system", content: `s${n}` })
    expect(contextWindow([sys(1), sys(2), sys(3), user("a"), user("b")], 2)).toEqual([sys(1), user("b")])
    expect(contextWindow([sys(1), user("a")], 40)).toEqual([sys(1), user("a")])
    expect(contextWindow([user("a"), sys(1), user("b")], 2)).toEqual([sys(1), user("b")])
    expect(contextWindow([sys(1), sys(2)], 1)).toEqual([sys(1)])
  })

  it("a server that never answers is an AgentError timeout", async () => {
    const server = await fakeServer(() => {
      // never writes headers
    })
    const started = Date.now()
    const error = await failureOf(options(server.baseUrl, { timeout: Duration.millis(300) }))
    expect(error.message).toMatch(/did not answer within/)
    expect(Date.now() - started).toBeLessThan(3_000)
  })

  it("a stream that stalls between chunks is an AgentError timeout", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      res.write(delta("start"))
      // then nothing
    })
    const error = await failureOf(options(server.baseUrl, { timeout: Duration.millis(300) }))
    expect(error.message).toMatch(/did not send anything within/)
  })

  it("a 500 is an AgentError naming the status and the server's message", async () => {
    const server = await fakeServer((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: "model crashed: out of memory" + " x".repeat(500) } }))
    })
    const error = await failureOf(options(server.baseUrl))
    expect(error.message).toMatch(/500/)
    expect(error.message).toMatch(/model crashed: out of memory/)
    expect(error.message.length).toBeLessThan(300)
  })

  it("a 401 is an AgentError", async () => {
    const server = await fakeServer((_req, res) => {
      res.writeHead(401, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error" } }))
    })
    const error = await failureOf(options(server.baseUrl))
    expect(error.message).toMatch(/401/)
    expect(error.message).toMatch(/Incorrect API key/)
  })

  it("a malformed stream is an AgentError", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      res.write(delta("fine so far"))
      res.end("data: {this is not json\n\n")
    })
    const error = await failureOf(options(server.baseUrl))
    expect(error.message).toMatch(/malformed/)
  })

  it("an error event inside the stream is an AgentError", async () => {
    const server = await fakeServer((_req, res) => {
      sse(res)
      res.end(`data: ${JSON.stringify({ error: { message: "context length exceeded" } })}\n\n`)
    })
    const error = await failureOf(options(server.baseUrl))
    expect(error.message).toMatch(/context length exceeded/)
  })

  it("an unreachable server is an AgentError", async () => {
    const server = await fakeServer(() => {})
    const closed = server.baseUrl
    for (const s of servers) await new Promise((resolve) => s.close(resolve))
    servers = []
    const error = await failureOf(options(closed))
    expect(error.message).toMatch(/cannot reach the model server/)
  })

  it("interrupting the turn aborts the HTTP request (the server sees the socket close)", async () => {
    let sawClose!: () => void
    const socketClosed = new Promise<void>((resolve) => (sawClose = resolve))
    let sentFirst!: () => void
    const firstSent = new Promise<void>((resolve) => (sentFirst = resolve))
    const server = await fakeServer((req, res) => {
      res.on("close", () => sawClose())
      req.socket.on("close", () => sawClose())
      sse(res)
      res.write(delta("partial"), () => sentFirst())
      // then hold the stream open
    })
    const got: Array<string> = []
    const fiber = Effect.runFork(
      Effect.flatMap(Agent, (agent) => Stream.runForEach(agent.respond(request()), (chunk) => Effect.sync(() => got.push(chunk)))).pipe(
        Effect.provide(openAiAgent(options(server.baseUrl, { timeout: Duration.seconds(30) })))
      )
    )
    await firstSent
    while (got.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    const exit = await Effect.runPromise(Fiber.interrupt(fiber))
    expect(Exit.isInterrupted(exit)).toBe(true)
    await Promise.race([
      socketClosed,
      new Promise((_, reject) => setTimeout(() => reject(new Error("the server never saw the socket close")), 3_000))
    ])
    expect(got).toEqual(["partial"])
  })
})

describe("openai agent configuration", () => {
  it("kind openai without a model is a ConfigError naming agent.openai.model", () => {
    const result = resolveConfig(Option.some("agent:\n  kind: openai\n"), { file: "config.yaml", env: {} })
    expect(Either.isLeft(result)).toBe(true)
    const error = Either.getLeft(result).pipe(Option.getOrThrow)
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.path).toBe("agent.openai.model")
    expect(error.message).toMatch(/agent\.openai\.model/)
    expect(error.exitCode).toBe(78)
  })

  it("defaults, and a model given by the environment", () => {
    const config = Either.getOrThrow(resolveConfig(Option.none(), {
      file: "config.yaml",
      env: { HERMES_AGENT_KIND: "openai", HERMES_AGENT_OPENAI_MODEL: "llama3.1:8b" }
    }))
    expect(config.agent.openai.model).toBe("llama3.1:8b")
    expect(config.agent.openai.base_url).toBe("http://127.0.0.1:11434/v1")
    expect(config.agent.openai.api_key_env).toBeNull()
    expect(Duration.toMillis(config.agent.openai.timeout)).toBe(60_000)
    expect(config.agent.openai.max_context_messages).toBe(40)
    expect(defaultConfig.agent.openai.model).toBe("")
  })

  it("bad values are ConfigErrors naming the key", () => {
    const text = "agent:\n  openai:\n    base_url: ftp://example\n    max_context_messages: 0\n    timeout: 0s\n"
    const error = Either.getLeft(resolveConfig(Option.some(text), { file: "config.yaml", env: {} })).pipe(Option.getOrThrow)
    expect(error.message).toMatch(/agent\.openai\.base_url/)
    expect(error.message).toMatch(/agent\.openai\.max_context_messages/)
    expect(error.message).toMatch(/agent\.openai\.timeout/)
  })

  it("api_key_env naming a missing or empty variable is a ConfigError naming the variable", () => {
    const section = { ...defaultConfig.agent.openai, model: "m", api_key_env: "MY_OPENAI_KEY" }
    for (const env of [{}, { MY_OPENAI_KEY: "" }]) {
      const error = Either.getLeft(openAiOptionsFrom(section, env)).pipe(Option.getOrThrow)
      expect(error).toBeInstanceOf(ConfigError)
      expect(error.message).toMatch(/MY_OPENAI_KEY/)
    }
    const ok = Either.getOrThrow(openAiOptionsFrom(section, { MY_OPENAI_KEY: "sk-1" }))
    expect(Option.map(ok.apiKey, Redacted.value)).toEqual(Option.some("sk-1"))
    expect(ok.baseUrl).toBe("http://127.0.0.1:11434/v1")
  })
})
