// What a hostile or broken client can hold of the HTTP adapter: connections beyond the cap are
// refused, stalled requests are cut at the request timeout (which never bounds a turn), bodies in
// flight share one memory budget, and each cap logs once per episode, not per client.
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { replyTo, startServing } from "./AdapterFixture.js"
import { jsonHeaders, openStream, parseEvents, postJson, send, streamedText } from "./RawHttp.js"

const completions = "/v1/chat/completions"
const hello = { messages: [{ role: "user", content: "hello there" }] }
const json = (body: string) => JSON.parse(body) as any

/** Polls a fact every few milliseconds; fails naming it after `timeoutMs` (a bound, not a timing). */
const waitUntil = (what: string, fact: () => boolean, timeoutMs = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!fact()) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("10 millis")
    }
  })

interface RawClient {
  readonly socket: net.Socket
  readonly received: () => string
  /** The connection is over (the server closed it, or it broke). */
  readonly closed: () => boolean
}

/** A bare TCP client, destroyed with the test's scope; resolves once connected (or already closed). */
const rawClient = (port: number): Effect.Effect<RawClient, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<RawClient>((resume) => {
      const socket = net.connect(port, "127.0.0.1")
      let received = ""
      let closed = false
      const client: RawClient = { socket, received: () => received, closed: () => closed }
      socket.setEncoding("utf8")
      socket.on("data", (chunk: string) => (received += chunk))
      socket.on("error", () => {})
      socket.once("close", () => {
        closed = true
        resume(Effect.succeed(client))
      })
      socket.once("connect", () => resume(Effect.succeed(client)))
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

const uploadHead = (length: number, expectContinue = true) =>
  `POST ${completions} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${length}\r\n${expectContinue ? "Expect: 100-continue\r\n" : ""}\r\n`

/** A JSON body of exactly `length` bytes. */
const bodyOfLength = (length: number): string => {
  const text = JSON.stringify(hello)
  return text + " ".repeat(length - text.length)
}

/**
 * An upload the server has started reading (it sent 100 Continue, so the body is counted), that
 * then stalls after its first bytes.
 */
const stalledUpload = (port: number, length: number) =>
  Effect.gen(function*() {
    const client = yield* rawClient(port)
    client.socket.write(uploadHead(length))
    yield* waitUntil("100 Continue", () => client.received().includes("100 Continue") || client.closed())
    expect(client.received()).toContain("HTTP/1.1 100 Continue")
    client.socket.write(bodyOfLength(length).slice(0, 10))
    return client
  })

const capturingLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, message }) => {
    const text = String(Array.isArray(message) ? message[0] : message)
    const refused = HashMap.get(annotations, "refused")
    lines.push(Option.isNone(refused) ? text : `${text} refused=${String(refused.value)}`)
  })
  return {
    layer: Logger.replace(Logger.defaultLogger, logger),
    matching: (fragment: string) => lines.filter((line) => line.includes(fragment))
  }
}

describe("HttpAdapter limits", () => {
  it.scopedLive("connections beyond max_connections are refused and logged once, then accepted again once slots free up", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const { port, url } = yield* startServing({}, { maxConnections: 4 })
      // Three uploads stalled mid-body and one client stalled mid-headers hold every slot.
      const stalled = [
        yield* stalledUpload(port, 500),
        yield* stalledUpload(port, 500),
        yield* stalledUpload(port, 500),
        yield* rawClient(port)
      ]
      stalled[3]!.socket.write(`GET /healthz HTTP/1.1\r\nHost: te`)

      const excess = yield* Effect.all(Array.from({ length: 5 }, () => rawClient(port)))
      yield* waitUntil("every excess connection closed", () => excess.every((client) => client.closed()))
      for (const client of excess) expect(client.received()).toBe("")
      expect(logs.matching("connection limit reached (4); refusing new connections")).toHaveLength(1)
      expect(stalled.some((client) => client.closed())).toBe(false)

      // The stalled clients go away: the slots are free, the recovery is logged once with the count.
      for (const client of stalled) client.socket.destroy()
      yield* waitUntil("the recovery logged", () => logs.matching("connection limit cleared").length > 0)
      expect(logs.matching("connection limit cleared")).toEqual([
        "connection limit cleared; accepting new connections again refused=5"
      ])
      expect((yield* postJson(url, completions, hello)).status).toBe(200)
      expect(logs.matching("connection limit reached")).toHaveLength(1)
    }).pipe(Effect.provide(logs.layer))
  }, 60_000)

  it.scopedLive("clients stalled in their headers or their body are answered 408 and cut at the request timeout", () =>
    Effect.gen(function*() {
      const { port, url } = yield* startServing({}, { requestTimeoutMillis: 1000 })
      const silent = yield* rawClient(port)
      const slowHeaders = yield* rawClient(port)
      slowHeaders.socket.write(`GET /healthz HTTP/1.1\r\nHost: te`)
      const slowBody = yield* stalledUpload(port, 500)
      const stalled = [silent, slowHeaders, slowBody]
      yield* waitUntil("the stalled clients cut", () => stalled.every((client) => client.closed()))
      for (const client of [slowHeaders, slowBody]) expect(client.received()).toContain("408 Request Timeout")
      expect((yield* postJson(url, completions, hello)).status).toBe(200)
    }), 60_000)

  it.scopedLive("bodies in flight share max_inflight_body_bytes: beyond it 503 with Retry-After, while small requests are still served", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const { port, url } = yield* startServing({}, { maxBodyBytes: 1000, maxInflightBodyBytes: 2500 })
      // Two stalled uploads hold 2000 of the 2500 bytes.
      const stalled = [yield* stalledUpload(port, 1000), yield* stalledUpload(port, 1000)]

      const declared = yield* send(url, {
        method: "POST",
        path: completions,
        headers: jsonHeaders,
        body: bodyOfLength(1000)
      })
      expect(declared.status).toBe(503)
      expect(declared.headers["retry-after"]).toBe("7")
      expect(declared.headers.connection).toBe("close")
      expect(json(declared.body).error).toMatchObject({ type: "unavailable", code: "busy" })

      // A body of no declared length takes from the budget as it arrives, and is cut when it no longer fits.
      const chunked = yield* send(url, { method: "POST", path: completions, headers: jsonHeaders, body: ["[", " ".repeat(300), " ".repeat(300), "]"] })
      expect(chunked.status).toBe(503)
      expect(json(chunked.body).error.code).toBe("busy")

      // The attack does not stop an ordinary request that fits.
      expect((yield* postJson(url, completions, hello)).status).toBe(200)
      expect(logs.matching("hold the whole budget (2500 bytes)")).toHaveLength(1)

      // The stalled uploads finish: they are answered, and their bytes go back to the budget.
      for (const client of stalled) client.socket.write(bodyOfLength(1000).slice(10))
      yield* waitUntil("both uploads answered", () => stalled.every((client) => client.received().includes("HTTP/1.1 200")))
      yield* waitUntil("the recovery logged", () => logs.matching("budget has room again").length > 0)
      expect(logs.matching("budget has room again")).toEqual(["request body budget has room again refused=2"])
      expect((yield* postJson(url, completions, bodyOfLength(1000))).status).toBe(200)
      expect(logs.matching("hold the whole budget")).toHaveLength(1)
    }).pipe(Effect.provide(logs.layer))
  }, 60_000)

  it.scopedLive("the request timeout bounds receiving a request, never the turn answering it", () =>
    Effect.gen(function*() {
      const hold = yield* Deferred.make<void>()
      const { port, url, submitted } = yield* startServing({ hold }, { requestTimeoutMillis: 1000 })
      const plain = yield* Effect.fork(postJson(url, completions, hello))
      const stream = yield* openStream(url, {
        method: "POST",
        path: completions,
        headers: jsonHeaders,
        body: JSON.stringify({ ...hello, stream: true })
      })
      expect(stream.status).toBe(200)
      yield* Queue.take(submitted)
      yield* Queue.take(submitted)
      // A client stalled after both turns were accepted is cut: the timeout has passed for them too.
      const late = yield* rawClient(port)
      late.socket.write("GET /healthz HTTP/1.1\r\n")
      yield* waitUntil("the stalled client cut", late.closed)

      yield* Deferred.succeed(hold, undefined)
      const answer = yield* Fiber.join(plain)
      expect(answer.status).toBe(200)
      expect(json(answer.body).choices[0].message.content).toBe(replyTo("hello there"))
      const text = yield* stream.until((received) => received.includes("[DONE]"))
      expect(streamedText(parseEvents(text).data)).toBe(replyTo("hello there"))
    }), 60_000)

  it.scopedLive("an unauthenticated upload is refused from its headers: no 100 Continue, no body read, connection closed", () =>
    Effect.gen(function*() {
      const { port } = yield* startServing({}, { apiKey: Redacted.make("s3cret") })
      // A client that waits for the go-ahead never gets it; one that does not wait is not read
      // (and kept alive) for as long as it cares to send.
      for (const expectContinue of [true, false]) {
        const client = yield* rawClient(port)
        client.socket.write(uploadHead(1000, expectContinue) + "{")
        yield* waitUntil("the refusal and the close", client.closed)
        expect(client.received()).toMatch(/^HTTP\/1\.1 401 /)
        expect(client.received()).not.toContain("100 Continue")
        expect(client.received().toLowerCase()).toContain("connection: close")
      }
    }))
})
