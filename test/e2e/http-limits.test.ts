// Hostile HTTP clients against a real gateway (Security issue, hostile input 6 and 8): a deeply
// nested body is a 400 with no stack trace, connections beyond adapters.http.max_connections are
// refused with one log line, stalled requests are cut at adapters.http.request_timeout, bodies in
// flight share adapters.http.max_inflight_body_bytes, and ordinary requests are served throughout.
import * as http from "node:http"
import * as net from "node:net"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, Sandbox, waitFor } from "./harness.js"

beforeAll(assertBuilt)

interface Reply {
  readonly status: number
  readonly body: any
}

/** One request on its own connection (closed after the answer, so it holds no slot afterwards). */
const request = (port: number, body: string): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/v1/chat/completions",
      headers: { "content-type": "application/json" },
      agent: false,
      timeout: 20_000
    }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on("timeout", () => req.destroy(new Error("no answer")))
    req.on("error", reject)
    req.end(body)
  })

const chat = (text: string) => JSON.stringify({ messages: [{ role: "user", content: text }] })

interface RawClient {
  readonly socket: net.Socket
  received: string
  closed: boolean
}

/** A TCP client destroyed with the test; resolves once connected or already closed by the server. */
const rawClient = (port: number, clients: Array<RawClient>): Promise<RawClient> =>
  new Promise((resolve) => {
    const client: RawClient = { socket: net.connect(port, "127.0.0.1"), received: "", closed: false }
    clients.push(client)
    client.socket.setEncoding("utf8")
    client.socket.on("data", (chunk: string) => (client.received += chunk))
    client.socket.on("error", () => {})
    client.socket.once("close", () => {
      client.closed = true
      resolve(client)
    })
    client.socket.once("connect", () => resolve(client))
  })

/** An upload the gateway is reading (it said 100 Continue), stalled after its first bytes. */
const stalledUpload = async (port: number, length: number, clients: Array<RawClient>): Promise<RawClient> => {
  const client = await rawClient(port, clients)
  client.socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`
  )
  await waitFor("100 Continue", () => client.received.includes("100 Continue") || client.closed)
  if (!client.received.includes("100 Continue")) throw new Error(`upload refused: ${JSON.stringify(client.received)}`)
  client.socket.write("{\"messages\"")
  return client
}

const occurrences = (text: string, fragment: string) => text.split(fragment).length - 1

describe("hostile HTTP clients", () => {
  it("deep JSON is a 400; excess connections are refused and logged once; stalled uploads are cut; ordinary requests go on", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const clients: Array<RawClient> = []
    ctx.onTestFinished(() => clients.forEach((client) => client.socket.destroy()))
    const home = sb.home([
      "adapters:",
      "  http:",
      "    port: 0",
      "    max_connections: 4",
      // Long enough for the slots to stay held while the test opens its connections on a loaded machine.
      "    request_timeout: 10s",
      "    max_body_bytes: 20000",
      "    max_inflight_body_bytes: 50000",
      ""
    ].join("\n"))
    const gw = sb.run(home)
    const port = await gw.waitRunning(30_000)

    const deep = await request(port, `{"messages":${"[".repeat(5000)}${"]".repeat(5000)}}`)
    expect(deep.status).toBe(400)
    expect(deep.body.error.code).toBe("nesting_too_deep")

    // Two uploads hold 40000 of the 50000 bytes: another large one is turned away, a small one served.
    const uploads = [await stalledUpload(port, 20000, clients), await stalledUpload(port, 20000, clients)]
    const large = await request(port, chat("x".repeat(19000)))
    expect(large.status).toBe(503)
    expect(large.body.error.code).toBe("busy")
    expect((await request(port, chat("still served"))).body.choices[0].message.content).toBe("still served")

    // Two clients stalled in their headers take the last slots; every further connection is refused.
    const slowHeaders = [await rawClient(port, clients), await rawClient(port, clients)]
    for (const client of slowHeaders) client.socket.write("GET /healthz HTTP/1.1\r\nHost: te")
    const excess = await Promise.all(Array.from({ length: 6 }, () => rawClient(port, clients)))
    await waitFor("the excess connections closed", () => excess.every((client) => client.closed), { context: () => gw.describe() })
    expect(excess.map((client) => client.received)).toEqual(excess.map(() => ""))

    // The request timeout cuts every stalled client; the gateway is whole again.
    const stalled = [...uploads, ...slowHeaders]
    await waitFor("the stalled clients cut", () => stalled.every((client) => client.closed), {
      timeoutMs: 40_000,
      context: () => gw.describe()
    })
    await waitFor("the recovery logged", () => gw.stderr.includes("connection limit cleared"), { context: () => gw.describe() })
    expect((await request(port, chat("after the attack"))).status).toBe(200)

    expect(occurrences(gw.stderr, "connection limit reached (4); refusing new connections")).toBe(1)
    expect(occurrences(gw.stderr, "connection limit cleared")).toBe(1)
    expect(occurrences(gw.stderr, "hold the whole budget (50000 bytes)")).toBe(1)
    expect(gw.stderr).not.toMatch(/RangeError|Maximum call stack|internal error/)
    expect(gw.alive).toBe(true)
  }, 120_000)
})
