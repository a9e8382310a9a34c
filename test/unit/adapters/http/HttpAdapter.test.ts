import * as http from "node:http"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { AdapterConnectError, type Readiness } from "../../../../src/adapters/Adapter.js"
import { makeHttpAdapter } from "../../../../src/adapters/http/HttpAdapter.js"
import { followBySubmit, type TurnIntake } from "../../../../src/adapters/TurnIntake.js"
import { defaultOptions, makeFakeIntake, replyTo, startAdapter, startServing } from "./AdapterFixture.js"
import { jsonHeaders, openStream, parseEvents, postJson, send, streamedText } from "./RawHttp.js"
import { quietContext, quietDelivery } from "../IntakeContextFixture.js"

const completions = "/v1/chat/completions"
const hello = { messages: [{ role: "user", content: "hello there" }] }
const json = (body: string) => JSON.parse(body) as any

describe("HttpAdapter lifecycle", () => {
  it.scopedLive("port 0 reports the port actually bound, and it answers there", () =>
    Effect.gen(function*() {
      const { url, port } = yield* startAdapter()
      expect(port).toBeGreaterThan(0)
      expect(url).toBe(`http://127.0.0.1:${port}`)
      const health = yield* send(url, { path: "/healthz" })
      expect(health.status).toBe(200)
      expect(json(health.body)).toEqual({ status: "ok" })
    }))

  it.scopedLive("an address in use fails connect with AdapterConnectError exit 69 naming host:port", () =>
    Effect.gen(function*() {
      const { port } = yield* startAdapter()
      const second = yield* makeHttpAdapter({ ...defaultOptions, port })
      const exit = yield* Effect.exit(second.connect)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        const error = exit.cause.error
        expect(error).toBeInstanceOf(AdapterConnectError)
        expect(error.exitCode).toBe(69)
        expect(error.adapter).toBe("http")
        expect(error.message).toContain(`127.0.0.1:${port}`)
        expect(error.message).toContain("EADDRINUSE")
      } else {
        expect.fail("expected a typed failure")
      }
      // The failed adapter holds nothing: disconnecting it is a no-op.
      yield* second.disconnect
    }))

  it.scopedLive("before startIntake: healthz 200, readyz 503 starting, completions 503 starting with Retry-After", () =>
    Effect.gen(function*() {
      const { adapter, url } = yield* startAdapter()
      expect((yield* send(url, { path: "/healthz" })).status).toBe(200)
      const ready = yield* send(url, { path: "/readyz" })
      expect(ready.status).toBe(503)
      expect(json(ready.body)).toEqual({ status: "starting" })
      const refused = yield* postJson(url, completions, hello)
      expect(refused.status).toBe(503)
      expect(refused.headers["retry-after"]).toBe("7")
      expect(json(refused.body)).toEqual({
        error: { message: "gateway is starting", type: "unavailable", param: null, code: "starting" }
      })

      const fake = yield* makeFakeIntake()
      yield* adapter.startIntake(fake.intake, quietContext()).pipe(Effect.provide(quietDelivery))
      const readyNow = yield* send(url, { path: "/readyz" })
      expect(readyNow.status).toBe(200)
      expect(json(readyNow.body)).toEqual({ status: "ready" })
      expect((yield* postJson(url, completions, hello)).status).toBe(200)
    }))

  it.scopedLive("readyz and new turns follow the gateway's lifecycle once intake is open: 503 draining as soon as a stop is decided", () =>
    Effect.gen(function*() {
      const { adapter, url } = yield* startAdapter()
      let readiness: Readiness = "starting"
      const context = { ...quietContext(), readiness: Effect.sync(() => readiness) }
      const fake = yield* makeFakeIntake()
      yield* adapter.startIntake(fake.intake, context).pipe(Effect.provide(quietDelivery))
      // Intake open, but the gateway is not running yet (other adapters still starting).
      expect(json((yield* send(url, { path: "/readyz" })).body)).toEqual({ status: "starting" })
      expect(json((yield* postJson(url, completions, hello)).body)).toMatchObject({ error: { code: "starting" } })
      readiness = "ready"
      expect((yield* send(url, { path: "/readyz" })).status).toBe(200)
      expect((yield* postJson(url, completions, hello)).status).toBe(200)
      // A stop is decided (phase 0): intake is still open until step 2, but a load balancer must
      // move on now, and a request that comes anyway starts no turn the drain would wait for.
      readiness = "draining"
      const probe = yield* send(url, { path: "/readyz" })
      expect(probe.status).toBe(503)
      expect(json(probe.body)).toEqual({ status: "draining" })
      const refused = yield* postJson(url, completions, hello)
      expect(refused.status).toBe(503)
      expect(refused.headers["retry-after"]).toBe("7")
      expect(json(refused.body)).toMatchObject({ error: { code: "draining" } })
      expect(yield* Queue.size(fake.submitted)).toBe(1)
    }))

  it.scopedLive("after stopIntake new requests get 503 + Retry-After while one in flight completes with 200", () =>
    Effect.gen(function*() {
      const hold = yield* Deferred.make<void>()
      const { adapter, url, submitted } = yield* startServing({ hold })
      // A keep-alive client, so Connection: close can only come from the server.
      const agent = new http.Agent({ keepAlive: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
      const post = send(url, { method: "POST", path: completions, headers: jsonHeaders, body: JSON.stringify(hello), agent })
      const inFlight = yield* Effect.fork(post)
      yield* Queue.take(submitted)

      yield* adapter.stopIntake
      const refused = yield* post
      expect(refused.status).toBe(503)
      expect(refused.headers["retry-after"]).toBe("7")
      expect(refused.headers.connection).toBe("close")
      expect(json(refused.body).error).toMatchObject({ type: "unavailable", code: "draining" })
      const ready = yield* send(url, { path: "/readyz" })
      expect(ready.status).toBe(503)
      expect(json(ready.body)).toEqual({ status: "draining" })
      const health = yield* send(url, { path: "/healthz", agent })
      expect(health.status).toBe(200)
      expect(health.headers.connection).toBe("close")

      yield* Deferred.succeed(hold, undefined)
      const completed = yield* Fiber.join(inFlight)
      expect(completed.status).toBe(200)
      // Answered after the drain began: the client must not reuse this connection.
      expect(completed.headers.connection).toBe("close")
      expect(json(completed.body).choices[0].message.content).toBe(replyTo("hello there"))
    }))

  it.scopedLive("disconnect returns promptly with an idle keep-alive connection and a hanging request", () =>
    Effect.gen(function*() {
      const never = yield* Deferred.make<void>()
      const { adapter, url, submitted } = yield* startServing({ hold: never })
      const agent = new http.Agent({ keepAlive: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
      const first = yield* send(url, { path: "/healthz", agent })
      expect(first.status).toBe(200)
      expect(first.headers.connection).toBe("keep-alive")

      const hanging = yield* Effect.fork(postJson(url, completions, hello))
      yield* Queue.take(submitted)

      const started = Date.now()
      yield* adapter.disconnect
      expect(Date.now() - started).toBeLessThan(1000)
      // The hanging request was answered, not cut off.
      const answer = yield* Fiber.join(hanging)
      expect(answer.status).toBe(503)
      expect(json(answer.body).error.code).toBe("interrupted")
      // Nothing listens any more.
      const refused = yield* Effect.exit(send(url, { path: "/healthz" }))
      expect(Exit.isFailure(refused)).toBe(true)
    }))

  it.scopedLive("disconnect answers and closes a client stuck in the middle of its body", () =>
    Effect.gen(function*() {
      const { adapter, port, submitted } = yield* startServing()
      const socket = net.connect(port, "127.0.0.1")
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      let received = ""
      socket.setEncoding("utf8")
      socket.on("data", (chunk: string) => received += chunk)
      socket.on("error", () => {})
      const closed = yield* Deferred.make<void>()
      socket.once("close", () => Deferred.unsafeDone(closed, Exit.void))
      yield* Effect.async<void>((resume) => {
        socket.once("connect", () => resume(Effect.void))
      })
      // Promises 100 bytes, sends one.
      socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
      yield* Effect.sleep("50 millis")

      const started = Date.now()
      yield* adapter.disconnect
      yield* Deferred.await(closed).pipe(
        Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("socket still open") })
      )
      expect(Date.now() - started).toBeLessThan(1000)
      expect(received).toMatch(/^HTTP\/1\.1 503 /)
      expect(received).toContain("Connection: close")
      expect(yield* Queue.size(submitted)).toBe(0)
    }))
})

describe("HttpAdapter routes", () => {
  it.scopedLive("GET /v1/models lists the agent's model in OpenAI's shape", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing()
      const models = yield* send(url, { path: "/v1/models" })
      expect(models.status).toBe(200)
      const body = json(models.body)
      expect(body).toMatchObject({ object: "list", data: [{ id: "hermes-echo", object: "model", owned_by: "hermes" }] })
      expect(Number.isInteger(body.data[0].created)).toBe(true)
      expect(body.data[0].created).toBeGreaterThan(1_600_000_000)

      const one = yield* send(url, { path: "/v1/models/hermes-echo" })
      expect(json(one.body)).toMatchObject({ id: "hermes-echo", object: "model" })
      const other = yield* send(url, { path: "/v1/models/gpt-9" })
      expect(other.status).toBe(404)
      expect(json(other.body).error.code).toBe("model_not_found")
    }))

  it.scopedLive("unknown path is 404 and a wrong method 405 with Allow, both as OpenAI errors", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing()
      const missing = yield* send(url, { path: "/v1/embeddings" })
      expect(missing.status).toBe(404)
      expect(json(missing.body).error).toMatchObject({ type: "invalid_request_error", code: "not_found" })

      const getCompletions = yield* send(url, { path: completions })
      expect(getCompletions.status).toBe(405)
      expect(getCompletions.headers.allow).toBe("POST")
      expect(json(getCompletions.body).error.code).toBe("method_not_allowed")

      const postHealth = yield* send(url, { method: "POST", path: "/healthz", body: "" })
      expect(postHealth.status).toBe(405)
      expect(postHealth.headers.allow).toBe("GET, HEAD")
    }))

  it.scopedLive("with an API key every route but the probes needs the right bearer token", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({}, { apiKey: Redacted.make("s3cret") })
      expect((yield* send(url, { path: "/healthz" })).status).toBe(200)
      expect((yield* send(url, { path: "/readyz" })).status).toBe(200)

      const attempts: ReadonlyArray<Record<string, string>> = [{}, { authorization: "Bearer wrong" }, { authorization: "Basic s3cret" }, { authorization: "Bearer s3cret-and-more" }]
      for (const headers of attempts) {
        const refused = yield* send(url, { path: "/v1/models", headers })
        expect(refused.status).toBe(401)
        expect(refused.headers["www-authenticate"]).toBe("Bearer")
        expect(json(refused.body).error.type).toBe("authentication_error")
      }
      // Unknown paths do not reveal themselves without the key.
      expect((yield* send(url, { path: "/nope" })).status).toBe(401)
      const denied = yield* postJson(url, completions, hello)
      expect(denied.status).toBe(401)

      const auth = { authorization: "Bearer s3cret" }
      expect((yield* send(url, { path: "/v1/models", headers: auth })).status).toBe(200)
      expect((yield* send(url, { path: "/nope", headers: auth })).status).toBe(404)
      expect((yield* postJson(url, completions, hello, { authorization: "bearer s3cret" })).status).toBe(200)
    }))
})

describe("HttpAdapter chat completions", () => {
  it.scopedLive("a plain completion answers chat.completion, with the session header, from the last user message", () =>
    Effect.gen(function*() {
      const { url, submitted } = yield* startServing()
      const response = yield* postJson(url, completions, {
        model: "whatever",
        temperature: 0.2,
        user: "alice",
        messages: [
          { role: "developer", content: "be brief" },
          { role: "user", content: "first question" },
          { role: "assistant", content: "first answer" },
          { role: "tool", content: "tool output" },
          { role: "user", content: [{ type: "text", text: "second" }, { type: "text", text: "question" }] }
        ]
      })
      expect(response.status).toBe(200)
      expect(response.headers["x-hermes-session"]).toBe("alice")
      const body = json(response.body)
      expect(body).toMatchObject({
        id: "chatcmpl-turn-1",
        object: "chat.completion",
        model: "hermes-echo",
        choices: [{ index: 0, message: { role: "assistant", content: replyTo("second\nquestion") }, finish_reason: "stop" }]
      })
      expect(Number.isInteger(body.created)).toBe(true)
      expect(body.usage.completion_tokens).toBe(3)
      expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens)

      const inbound = yield* Queue.take(submitted)
      expect(inbound).toEqual({
        platform: "http",
        sessionKey: "alice",
        text: "second\nquestion",
        history: [
          { role: "system", content: "be brief" },
          { role: "user", content: "first question" },
          { role: "assistant", content: "first answer" }
        ],
        user: "alice",
        generation: { temperature: 0.2 }
      })
    }))

  it.scopedLive("session key comes from X-Hermes-Session when the body has no user, else a new session", () =>
    Effect.gen(function*() {
      const { url, submitted } = yield* startServing()
      const keyed = yield* postJson(url, completions, hello, { "x-hermes-session": "chat-42" })
      expect(keyed.headers["x-hermes-session"]).toBe("chat-42")
      expect((yield* Queue.take(submitted)).sessionKey).toBe("chat-42")

      const fresh = yield* postJson(url, completions, hello)
      expect((yield* Queue.take(submitted)).sessionKey).toBeUndefined()
      // The gateway's new session id goes back so the client can continue it.
      expect(fresh.headers["x-hermes-session"]).toBe("session-2")
    }))

  it.scopedLive("Interrupted is 503 with Retry-After, Failed 502, IntakeClosed 503 draining", () =>
    Effect.gen(function*() {
      const interrupted = yield* startServing({ outcome: "Interrupted" })
      const a = yield* postJson(interrupted.url, completions, hello)
      expect(a.status).toBe(503)
      expect(a.headers["retry-after"]).toBe("7")
      expect(a.headers["x-hermes-session"]).toBe("session-1")
      expect(json(a.body).error).toMatchObject({ type: "unavailable", code: "interrupted" })
      expect(json(a.body).error.message).toContain("shutting down")

      const failed = yield* startServing({ outcome: "Failed" })
      const b = yield* postJson(failed.url, completions, hello)
      expect(b.status).toBe(502)
      expect(json(b.body).error).toMatchObject({ code: "agent_error" })
      expect(json(b.body).error.message).toContain("model exploded")

      const closed = yield* startServing({ outcome: "IntakeClosed" })
      const c = yield* postJson(closed.url, completions, hello)
      expect(c.status).toBe(503)
      expect(c.headers["retry-after"]).toBe("7")
      expect(json(c.body).error.code).toBe("draining")
    }))

  it.scopedLive("a defect in a handler is a 500 error object and the server keeps serving", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ outcome: "Defect" })
      const broken = yield* postJson(url, completions, hello)
      expect(broken.status).toBe(500)
      expect(json(broken.body).error).toMatchObject({ type: "api_error", code: "internal_error" })
      expect((yield* send(url, { path: "/healthz" })).status).toBe(200)
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))

  it.scopedLive("handlers log through the program's logger: requests at debug only, defects at error", () => {
    const lines: Array<{ readonly level: LogLevel.LogLevel; readonly message: string }> = []
    const capture = Logger.make(({ logLevel, message }) => {
      lines.push({ level: logLevel, message: String(Array.isArray(message) ? message[0] : message) })
    })
    return Effect.gen(function*() {
      const { url } = yield* startServing({ outcome: "Defect" })
      expect((yield* send(url, { path: "/healthz" })).status).toBe(200)
      expect((yield* postJson(url, completions, hello)).status).toBe(500)
      // The request line is written after the answer: wait for both.
      while (lines.filter((line) => line.message === "http request").length < 2) yield* Effect.sleep("5 millis")
      const failures = lines.filter((line) => line.message === "http request failed")
      expect(failures.map((line) => line.level)).toEqual([LogLevel.Error])
      const others = lines.filter((line) => line.message !== "http request failed")
      expect(others.every((line) => LogLevel.lessThan(line.level, LogLevel.Info))).toBe(true)
    }).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  })

  it.scopedLive("bad JSON, wrong shapes and missing user messages are 400 naming the field", () =>
    Effect.gen(function*() {
      const { url, submitted } = yield* startServing()
      const badJson = yield* postJson(url, completions, "{\"messages\": [")
      expect(badJson.status).toBe(400)
      expect(json(badJson.body).error).toMatchObject({ type: "invalid_request_error", code: null })
      expect(json(badJson.body).error.message).toContain("not valid JSON")

      const cases: ReadonlyArray<readonly [unknown, string, string | null]> = [
        [{ messages: [{ role: "user", content: "hi" }, { role: "bot", content: "x" }] }, "messages[1].role: ", "messages"],
        [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] }, "messages[0].content[0].type: ", "messages"],
        [{ messages: [{ role: "user", content: 5 }] }, "messages[0].content: Expected a string or an array of text parts", "messages"],
        [{ messages: [{ role: "system", content: "x" }] }, "messages: must contain at least one message with role \"user\"", "messages"],
        [{ model: "m" }, "messages: is missing", "messages"],
        [{ messages: [{ role: "user", content: "x" }], stream: "yes" }, "stream: Expected boolean", "stream"],
        [[1, 2], "Expected a JSON object", null]
      ]
      for (const [body, message, param] of cases) {
        const response = yield* postJson(url, completions, body)
        expect(response.status).toBe(400)
        const error = json(response.body).error
        expect(error.type).toBe("invalid_request_error")
        expect(error.message).toContain(message)
        expect(error.param).toBe(param)
      }
      // None of them became a turn.
      expect(yield* Queue.size(submitted)).toBe(0)
    }))

  it.scopedLive("JSON nested 5,000 levels deep anywhere in the body is a 400 naming the problem, never a 500", () => {
    const logged: Array<string> = []
    const capture = Logger.make(({ message }) => {
      logged.push(String(Array.isArray(message) ? message[0] : message))
    })
    return Effect.gen(function*() {
      const { url, submitted } = yield* startServing()
      const deep = (inner: string) => "[".repeat(5000) + inner + "]".repeat(5000)
      const bodies = [
        deep(""),
        `{"messages":${deep("")}}`,
        `{"messages":[{"role":"user","content":${deep("")}}]}`,
        `{"messages":[{"role":"user","content":"hi"}],"user":${deep("{}")}}`,
        // Even a field the gateway ignores: the parsed value is still walked (logs, errors).
        `{"messages":[{"role":"user","content":"hi"}],"metadata":${deep("")}}`
      ]
      for (const body of bodies) {
        const response = yield* postJson(url, completions, body)
        expect(response.status).toBe(400)
        expect(json(response.body).error).toMatchObject({ type: "invalid_request_error", code: "nesting_too_deep" })
        expect(json(response.body).error.message).toContain("more than 128 levels deep")
      }
      expect(yield* Queue.size(submitted)).toBe(0)
      expect(logged.filter((message) => message.includes("failed"))).toEqual([])
      // A body nested as deep as OpenAI's own shapes goes through.
      expect((yield* postJson(url, completions, { ...hello, metadata: { a: [[[{ b: [1] }]]] } })).status).toBe(200)
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
  })

  it.scopedLive("a body that is not JSON by Content-Type is refused with 415", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing()
      const response = yield* send(url, {
        method: "POST",
        path: completions,
        headers: { "content-type": "text/plain" },
        body: JSON.stringify(hello)
      })
      expect(response.status).toBe(415)
      expect(json(response.body).error.code).toBe("unsupported_media_type")
      const withCharset = yield* postJson(url, completions, hello, { "content-type": "application/json; charset=utf-8" })
      expect(withCharset.status).toBe(200)
    }))

  it.scopedLive("a declared Content-Length over the limit is refused with 413 before the body is sent", () =>
    Effect.gen(function*() {
      const { url, submitted } = yield* startServing({}, { maxBodyBytes: 1024 })
      // Only the headers go out: the answer must not wait for a body that never comes.
      const answer = yield* Effect.async<{ status: number; body: string; connection: string | undefined }, Error>((resume) => {
        const req = http.request(new URL(completions, url), {
          method: "POST",
          agent: false,
          headers: { ...jsonHeaders, "content-length": String(10 * 1024 * 1024) }
        }, (res) => {
          let body = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => body += chunk)
          res.on("end", () => {
            req.destroy()
            resume(Effect.succeed({ status: res.statusCode ?? 0, body, connection: res.headers.connection }))
          })
        })
        req.on("error", (error) => resume(Effect.fail(error)))
        req.flushHeaders()
        return Effect.sync(() => req.destroy())
      }).pipe(Effect.timeout("5 seconds"))
      expect(answer.status).toBe(413)
      expect(answer.connection).toBe("close")
      expect(json(answer.body).error).toMatchObject({ type: "invalid_request_error", code: "payload_too_large" })
      expect(yield* Queue.size(submitted)).toBe(0)
    }))

  it.scopedLive("a chunked body without length is counted and refused with 413 at the limit", () =>
    Effect.gen(function*() {
      const { url, submitted } = yield* startServing({}, { maxBodyBytes: 1024 })
      const big = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(3000) }] })
      const response = yield* send(url, {
        method: "POST",
        path: completions,
        headers: jsonHeaders,
        body: [big.slice(0, 500), big.slice(500, 1500), big.slice(1500)]
      })
      expect(response.status).toBe(413)
      expect(json(response.body).error.code).toBe("payload_too_large")
      expect(yield* Queue.size(submitted)).toBe(0)

      // Under the limit, a chunked body is fine.
      const small = JSON.stringify(hello)
      const ok = yield* send(url, { method: "POST", path: completions, headers: jsonHeaders, body: [small.slice(0, 10), small.slice(10)] })
      expect(ok.status).toBe(200)
    }))

  it.scopedLive("a client that leaves mid-request does not stop the turn or the server", () =>
    Effect.gen(function*() {
      const hold = yield* Deferred.make<void>()
      const { url, submitted, finished } = yield* startServing({ hold })
      const stream = yield* openStream(url, {
        path: completions,
        headers: jsonHeaders,
        body: JSON.stringify({ ...hello, stream: true })
      })
      yield* Queue.take(submitted)
      yield* stream.until((text) => text.includes("\"role\":\"assistant\""))
      stream.req.destroy()
      yield* Effect.sleep("50 millis")
      yield* Deferred.succeed(hold, undefined)
      // The turn runs to its end although nobody reads it any more.
      while ((yield* Ref.get(finished)) === 0) yield* Effect.sleep("10 millis")
      expect((yield* send(url, { path: "/healthz" })).status).toBe(200)
    }))
})

describe("HttpAdapter streaming", () => {
  it.scopedLive("stream: true answers SSE chunks that rebuild the reply, then stop and [DONE]", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ chunkDelay: "5 millis" })
      const response = yield* postJson(url, completions, {
        ...hello,
        stream: true,
        stream_options: { include_usage: true }
      })
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toMatch(/^text\/event-stream/)
      expect(response.headers["cache-control"]).toBe("no-cache")
      expect(response.headers["x-hermes-session"]).toBe("session-1")
      const { data } = parseEvents(response.body)
      expect(data.at(-1)).toBe("[DONE]")
      const events = data.slice(0, -1).map(json)
      expect(events[0]).toMatchObject({
        id: "chatcmpl-turn-1",
        object: "chat.completion.chunk",
        model: "hermes-echo",
        choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]
      })
      expect(streamedText(data)).toBe(replyTo("hello there"))
      // The reply arrived in several chunks, not in one.
      expect(events.filter((event) => event.choices[0]?.delta?.content).length).toBeGreaterThan(1)
      const stop = events.find((event) => event.choices[0]?.finish_reason === "stop")
      expect(stop.choices[0].delta).toEqual({})
      const usage = events.at(-1)
      expect(usage.choices).toEqual([])
      expect(usage.usage.completion_tokens).toBe(3)
    }))

  it.scopedLive("an Interrupted outcome mid-stream ends the SSE with an error event and no [DONE]", () =>
    Effect.gen(function*() {
      const { url } = yield* startServing({ outcome: "Interrupted" })
      const response = yield* postJson(url, completions, { ...hello, stream: true })
      expect(response.status).toBe(200)
      const { data } = parseEvents(response.body)
      expect(data).not.toContain("[DONE]")
      expect(streamedText(data.slice(0, -1))).toBe(replyTo("hello there"))
      expect(json(data.at(-1)!)).toEqual({
        error: {
          message: "gateway is shutting down; the turn was interrupted",
          type: "unavailable",
          param: null,
          code: "interrupted"
        }
      })
    }))

  it.scopedLive("a stream refused before acceptance is answered like a plain request", () =>
    Effect.gen(function*() {
      const notAccepted = yield* startServing({ outcome: "Interrupted", accept: false })
      const interrupted = yield* postJson(notAccepted.url, completions, { ...hello, stream: true })
      expect(interrupted.status).toBe(503)
      expect(interrupted.headers["retry-after"]).toBe("7")
      expect(json(interrupted.body).error.code).toBe("interrupted")

      const closed = yield* startServing({ outcome: "IntakeClosed" })
      const draining = yield* postJson(closed.url, completions, { ...hello, stream: true })
      expect(draining.status).toBe(503)
      expect(json(draining.body).error.code).toBe("draining")
    }))

  it.scopedLive("no byte goes out before the turn is accepted", () =>
    Effect.gen(function*() {
      const accepted = yield* Deferred.make<void>()
      const { adapter, url } = yield* startAdapter()
      const fake = yield* makeFakeIntake()
      // Acceptance (the durable commit) is held back until the test lets it through.
      const held: TurnIntake["submit"] = (inbound) =>
        fake.intake.submit(inbound).pipe(Stream.tap((event) => event._tag === "Accepted" ? Deferred.await(accepted) : Effect.void))
      yield* adapter.startIntake({ ...fake.intake, submit: held, follow: followBySubmit(held) }, quietContext()).pipe(
        Effect.provide(quietDelivery)
      )
      const stream = yield* Effect.fork(openStream(url, {
        path: completions,
        headers: jsonHeaders,
        body: JSON.stringify({ ...hello, stream: true })
      }))
      yield* Queue.take(fake.submitted)
      yield* Effect.sleep("100 millis")
      expect(stream.unsafePoll()).toBeNull()
      yield* Deferred.succeed(accepted, undefined)
      const reader = yield* Fiber.join(stream)
      expect(reader.status).toBe(200)
      const text = yield* reader.until(() => reader.ended())
      expect(parseEvents(text).data.at(-1)).toBe("[DONE]")
    }))

  it.scopedLive("notifyInFlight writes a comment into open streams and never fails", () =>
    Effect.gen(function*() {
      const hold = yield* Deferred.make<void>()
      const { adapter, url, submitted } = yield* startServing({ hold })
      yield* adapter.notifyInFlight("stopping")
      const stream = yield* openStream(url, {
        path: completions,
        headers: jsonHeaders,
        body: JSON.stringify({ ...hello, stream: true })
      })
      yield* Queue.take(submitted)
      yield* stream.until((text) => text.includes("\"role\":\"assistant\""))
      yield* adapter.notifyInFlight("restarting")
      yield* stream.until((text) => text.includes(": gateway restarting"))
      yield* Deferred.succeed(hold, undefined)
      const text = yield* stream.until(() => stream.ended())
      const { data, comments } = parseEvents(text)
      expect(comments).toEqual(["gateway restarting"])
      expect(data.at(-1)).toBe("[DONE]")
      expect(streamedText(data)).toBe(replyTo("hello there"))
    }))
})
