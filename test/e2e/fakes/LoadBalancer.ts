// A loopback round-robin TCP load balancer for the replica tests and benchmarks: each client
// connection goes to the next backend in turn. A backend that refuses the connection (stopped,
// killed, not listening yet) is skipped and the connection tried on the next one: nothing reached
// it, so that retry is safe. Once a backend accepted the connection its bytes are its own: if it
// dies mid-request the client's connection is cut, never replayed elsewhere (that could answer a
// message twice). Clients that want one request per pick send `Connection: close` (no keep-alive).
import * as net from "node:net"
import type { FakeOwner } from "./LoopbackServer.js"

export interface BackendStats {
  /** Connections handed to this backend (it accepted them). */
  accepted: number
  /** Connect attempts it refused (or failed otherwise before accepting). */
  refused: number
}

export class LoadBalancer {
  readonly port: number
  /** Per backend port. */
  readonly stats = new Map<number, BackendStats>()
  /** Client connections closed because no backend accepted them. */
  unrouted = 0
  private next = 0
  private readonly sockets = new Set<net.Socket>()

  private constructor(private readonly server: net.Server, private backends: ReadonlyArray<number>) {
    this.port = (server.address() as net.AddressInfo).port
    for (const port of backends) this.statsOf(port)
    server.on("connection", (client) => this.route(client))
  }

  /** Listens on 127.0.0.1:0 in front of `backends` (ports on 127.0.0.1); closed when the owner finishes. */
  static async start(owner: FakeOwner | undefined, backends: ReadonlyArray<number>): Promise<LoadBalancer> {
    const server = net.createServer({ pauseOnConnect: true })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve())
    })
    const balancer = new LoadBalancer(server, backends)
    owner?.onTestFinished(() => balancer.close())
    return balancer
  }

  /** Replaces the backend list (a connection being routed keeps the list it started with). */
  setBackends(backends: ReadonlyArray<number>): void {
    this.backends = [...backends]
    for (const port of backends) this.statsOf(port)
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private statsOf(port: number): BackendStats {
    let stats = this.stats.get(port)
    if (stats === undefined) {
      stats = { accepted: 0, refused: 0 }
      this.stats.set(port, stats)
    }
    return stats
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.once("close", () => this.sockets.delete(socket))
  }

  private route(client: net.Socket): void {
    this.track(client)
    // Nothing is read from the client until a backend accepted: the request waits in the kernel.
    client.on("error", () => client.destroy())
    const backends = this.backends
    const first = this.next++
    const attempt = (tried: number): void => {
      if (client.destroyed) return
      if (tried >= backends.length) {
        this.unrouted++
        client.destroy()
        return
      }
      const port = backends[(first + tried) % backends.length]!
      const upstream = net.connect({ host: "127.0.0.1", port })
      this.track(upstream)
      let connected = false
      upstream.once("connect", () => {
        connected = true
        this.statsOf(port).accepted++
        // From here on a failure on either side ends both: the request may have reached the backend.
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
        // Ends travel through the pipes (a backend that dies mid-answer ends the client's copy short).
        client.pipe(upstream)
        upstream.pipe(client)
        client.resume()
      })
      upstream.once("error", () => {
        if (connected) return
        this.statsOf(port).refused++
        upstream.destroy()
        attempt(tried + 1)
      })
    }
    attempt(0)
  }
}
