// The gateway's control channel: a Unix socket file `<home>/gateway.sock`, mode 0600 inside the 0700
// home, so only the home's owner and root can connect (a socket in Linux's abstract namespace has no
// permissions at all). Only the holder of gateway.lock binds it, which is why it may remove a socket
// file a killed predecessor left behind. On connect the gateway sends one hello line naming itself;
// the client may send one JSON request line and gets one JSON answer line.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { describeError } from "./AtomicFile.js"
import { processIdentityFields } from "./ProcessIdentity.js"

export const LockHello = Schema.Struct({
  ...processIdentityFields,
  home: Schema.String
})
export type LockHello = typeof LockHello.Type

export const controlSocketFile = (homeDir: string): string => path.join(homeDir, "gateway.sock")

/** sun_path holds 108 bytes with the terminating NUL. */
export const maxSocketPathBytes = 107

/**
 * An address for the socket that fits sun_path. A longer home path goes through the home
 * directory's descriptor (`/proc/self/fd/N/gateway.sock`, Linux); `close` releases that descriptor.
 */
const socketAddress = (homeDir: string): { readonly address: string; readonly close: () => void } => {
  const file = controlSocketFile(homeDir)
  if (Buffer.byteLength(file) <= maxSocketPathBytes || process.platform !== "linux") return { address: file, close: () => {} }
  const dirFd = fs.openSync(homeDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  return { address: `/proc/self/fd/${dirFd}/${path.basename(file)}`, close: () => fs.closeSync(dirFd) }
}

/** For a call that resolves the path synchronously (connect(2) inside net.connect). */
const withSocketAddress = <A>(homeDir: string, use: (address: string) => A): A => {
  const { address, close } = socketAddress(homeDir)
  try {
    return use(address)
  } finally {
    close()
  }
}

// ----------------------------------------------------------------------------------------------
// Client side

export type ControlReply =
  /** No socket file, or nobody listens on it (a gateway that was killed): no gateway. */
  | { readonly _tag: "NoListener" }
  /** Someone listens but did not answer in time (a gateway whose loop is blocked), or hung up. */
  | { readonly _tag: "NoAnswer" }
  | { readonly _tag: "Answered"; readonly hello: LockHello; readonly answer: Option.Option<unknown> }

const decodeLine = <A, I>(schema: Schema.Schema<A, I>, line: string | undefined): Option.Option<A> => {
  if (line === undefined) return Option.none()
  try {
    return Schema.decodeUnknownOption(schema)(JSON.parse(line))
  } catch {
    return Option.none()
  }
}

/** One conversation: read the hello, optionally send one request and read its answer. */
const converse = (homeDir: string, request: Option.Option<unknown>, timeoutMs: number): Effect.Effect<ControlReply> =>
  Effect.async<ControlReply>((resume) => {
    const wanted = Option.isSome(request) ? 2 : 1
    const lines: Array<string> = []
    let buffer = ""
    let connected = false
    let done = false
    let socket: net.Socket | undefined
    const finish = (reply: ControlReply) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket?.destroy()
      resume(Effect.succeed(reply))
    }
    const ended = () => {
      if (!connected) return finish({ _tag: "NoListener" })
      const hello = decodeLine(LockHello, lines[0])
      if (Option.isNone(hello)) return finish({ _tag: "NoAnswer" })
      finish({ _tag: "Answered", hello: hello.value, answer: decodeLine(Schema.Unknown, lines[1]) })
    }
    const timer = setTimeout(() => (connected ? finish({ _tag: "NoAnswer" }) : finish({ _tag: "NoListener" })), timeoutMs)
    try {
      socket = withSocketAddress(homeDir, (address) => net.connect({ path: address }))
    } catch {
      finish({ _tag: "NoListener" })
      return
    }
    socket.setEncoding("utf8")
    socket.on("connect", () => {
      connected = true
      if (Option.isSome(request)) socket!.write(JSON.stringify(request.value) + "\n")
    })
    socket.on("data", (chunk: string) => {
      buffer += chunk
      let newline = buffer.indexOf("\n")
      while (newline >= 0) {
        lines.push(buffer.slice(0, newline))
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf("\n")
      }
      if (lines.length >= wanted) ended()
    })
    socket.on("error", ended)
    socket.on("end", ended)
    return Effect.sync(() => finish({ _tag: "NoAnswer" }))
  })

/** Asks the home's gateway who it is; None when no gateway serves the home's control socket. */
export const probeControl = (homeDir: string, timeoutMs = 1000): Effect.Effect<Option.Option<LockHello>> =>
  converse(homeDir, Option.none(), timeoutMs).pipe(
    Effect.map((reply) => (reply._tag === "Answered" ? Option.some(reply.hello) : Option.none()))
  )

/** Sends one request over the home's control socket. */
export const requestControl = (homeDir: string, request: unknown, timeoutMs = 10_000): Effect.Effect<ControlReply> =>
  converse(homeDir, Option.some(request), timeoutMs)

// ----------------------------------------------------------------------------------------------
// Server side

export interface ControlServer {
  readonly serve: (handler: (request: unknown) => Promise<unknown>) => void
}

const maxRequestBytes = 64 * 1024

const listen = (server: net.Server, address: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening)
      reject(error)
    }
    const onListening = () => {
      server.off("error", onError)
      resolve()
    }
    server.once("error", onError)
    server.once("listening", onListening)
    // The socket file is created by bind(2) inside listen(), synchronously: a tight umask for that
    // call means it never exists with wider permissions, even for a moment.
    const umask = process.umask(0o077)
    try {
      server.listen({ path: address })
    } finally {
      process.umask(umask)
    }
  })

/** Removes a socket file left by a killed predecessor. Only the holder of gateway.lock may call it. */
const removeStaleSocket = (file: string): void => {
  try {
    fs.unlinkSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
  }
}

/**
 * Serves the control socket for the life of the scope. The caller must hold gateway.lock. At the end
 * the socket file is removed before the lock is released, so it never removes a successor's socket.
 */
export const serveControlSocket = (homeDir: string, hello: LockHello) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const file = controlSocketFile(homeDir)
        const sockets = new Set<net.Socket>()
        let handler: ((request: unknown) => Promise<unknown>) | undefined
        const server = net.createServer((socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => socket.destroy())
          socket.setTimeout(10_000, () => socket.destroy())
          socket.write(JSON.stringify(hello) + "\n")
          let buffer = ""
          socket.setEncoding("utf8")
          socket.on("data", (chunk: string) => {
            buffer += chunk
            if (buffer.length > maxRequestBytes) return socket.destroy()
            const newline = buffer.indexOf("\n")
            if (newline < 0) return
            const line = buffer.slice(0, newline)
            socket.removeAllListeners("data")
            const answer = (value: unknown) => socket.end(JSON.stringify(value) + "\n")
            let request: unknown
            try {
              request = JSON.parse(line)
            } catch {
              return answer({ error: "the request is not valid JSON" })
            }
            if (handler === undefined) return answer({ error: "the gateway is not ready to answer yet" })
            handler(request).then(answer, (error) => answer({ error: describeError(error) }))
          })
        })
        removeStaleSocket(file)
        // A long home's directory descriptor stays open while the server lives: libuv unlinks the
        // bound name when the server closes, and that name must still mean this home then.
        const address = socketAddress(homeDir)
        try {
          await listen(server, address.address)
          fs.chmodSync(file, 0o600)
        } catch (error) {
          server.close()
          address.close()
          throw error
        }
        server.unref()
        const control: ControlServer = { serve: (h) => void (handler = h) }
        return { server, sockets, file, closeAddress: address.close, control }
      },
      catch: (error) => new Error(`cannot serve ${controlSocketFile(homeDir)}: ${describeError(error)}`)
    }),
    ({ closeAddress, file, server, sockets }) =>
      Effect.sync(() => {
        for (const socket of sockets) socket.destroy()
        server.close()
        closeAddress()
        try {
          removeStaleSocket(file)
        } catch {
          // left behind at worst: the next holder of the lock removes it
        }
      })
  ).pipe(Effect.map(({ control }) => control))
