// What the loopback fakes share: who owns them (cleanup when the test ends), listening on a free
// port of 127.0.0.1, and closing with every connection still open (held long polls included).
import type * as http from "node:http"
import type { AddressInfo } from "node:net"

/** What a fake needs from the test that owns it: cleanup when the test ends. */
export interface FakeOwner {
  readonly onTestFinished: (fn: () => void | Promise<void>) => void
}

/** Listens on 127.0.0.1:0; resolves with the port. */
export const listenOnLoopback = (server: http.Server): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
  })

/** Closes the server, cutting connections still open. */
export const closeServer = (server: http.Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
