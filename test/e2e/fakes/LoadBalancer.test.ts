// The replica tests' load balancer on its own: round-robin, a refusing backend skipped, and a
// request that reached a backend never replayed on another (that could answer a message twice).
import * as http from "node:http"
import * as net from "node:net"
import { describe, it, type TestContext } from "vitest"
import { LoadBalancer } from "./LoadBalancer.js"
import { closeServer, listenOnLoopback } from "./LoopbackServer.js"

/** A backend answering its name; `cut` makes it drop every request it received without an answer. */
const backend = async (ctx: TestContext, name: string, options: { readonly cut?: boolean } = {}) => {
  const received: Array<string> = []
  const server = http.createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      received.push(req.url ?? "")
      if (options.cut === true) res.socket?.destroy()
      else res.end(name)
    })
  })
  const port = await listenOnLoopback(server)
  ctx.onTestFinished(() => closeServer(server))
  return { port, received }
}

/** A loopback port nothing listens on. */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** One request on its own connection; the body, or the error's code. */
const get = (port: number, path: string): Promise<{ body?: string; error?: string }> =>
  new Promise((resolve) => {
    const request = http.get({ host: "127.0.0.1", port, path, agent: false, headers: { connection: "close" } }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => resolve({ body }))
      response.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? String(error) }))
    })
    request.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? String(error) }))
  })

describe.concurrent("LoadBalancer", () => {
  it("hands connections to the backends in turn", async (ctx) => {
    const a = await backend(ctx, "a")
    const b = await backend(ctx, "b")
    const lb = await LoadBalancer.start(ctx, [a.port, b.port])
    const bodies: Array<string | undefined> = []
    for (const path of ["/1", "/2", "/3", "/4"]) bodies.push((await get(lb.port, path)).body)
    ctx.expect(bodies).toEqual(["a", "b", "a", "b"])
    ctx.expect(lb.stats.get(a.port)).toEqual({ accepted: 2, refused: 0 })
  })

  it("skips a backend that refuses the connection and tries the next", async (ctx) => {
    const dead = await closedPort()
    const a = await backend(ctx, "a")
    const lb = await LoadBalancer.start(ctx, [dead, a.port])
    const bodies: Array<string | undefined> = []
    for (const path of ["/1", "/2", "/3"]) bodies.push((await get(lb.port, path)).body)
    ctx.expect(bodies).toEqual(["a", "a", "a"])
    ctx.expect(lb.stats.get(dead)!.refused).toBe(2)
    ctx.expect(a.received).toEqual(["/1", "/2", "/3"])
  })

  it("never replays a request that reached a backend: the client's connection is cut instead", async (ctx) => {
    const cutting = await backend(ctx, "cutting", { cut: true })
    const other = await backend(ctx, "other")
    const lb = await LoadBalancer.start(ctx, [cutting.port, other.port])
    const outcome = await get(lb.port, "/once")
    ctx.expect(outcome.body).toBeUndefined()
    ctx.expect(outcome.error).toBeDefined()
    ctx.expect(cutting.received).toEqual(["/once"])
    ctx.expect(other.received).toEqual([])
    // The next connection goes on to the next backend as usual.
    ctx.expect((await get(lb.port, "/next")).body).toBe("other")
  })

  it("closes the client's connection when every backend refuses", async (ctx) => {
    const lb = await LoadBalancer.start(ctx, [await closedPort(), await closedPort()])
    const outcome = await get(lb.port, "/nowhere")
    ctx.expect(outcome.error).toBeDefined()
    ctx.expect(lb.unrouted).toBe(1)
  })
})
