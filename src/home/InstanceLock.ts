// One gateway per home (CONTRACT 2). The lock is a listening Unix socket in Linux's abstract
// namespace, named after the home directory's device and inode: binding is atomic, and the kernel
// releases it the instant the holder dies, so a SIGKILLed gateway never blocks the next start.
// Whoever connects gets one JSON line naming the holder, which is how a second `run` names the pid.
import { createHash } from "node:crypto"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { ExitCode } from "../lifecycle/ExitCode.js"
import { describeError } from "./AtomicFile.js"

export class HomeLocked extends Data.TaggedError("HomeLocked")<{
  readonly message: string
  readonly pid: number | null
}> {
  readonly exitCode = ExitCode.Unavailable
}

export class LockError extends Data.TaggedError("LockError")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Config
}

export const LockHello = Schema.Struct({
  pid: Schema.Number,
  start_time: Schema.String,
  home: Schema.String
})
export type LockHello = typeof LockHello.Type

/**
 * Abstract sockets are Linux-only and scoped to a network namespace: homes shared between
 * containers with separate network namespaces are not guarded. Elsewhere a socket file in the
 * home is used, with a stale file (no listener) replaced on start.
 */
export const lockAddress = (homeDir: string): string => {
  if (process.platform === "linux") {
    const stat = fs.statSync(homeDir)
    const key = createHash("sha256").update(`${stat.dev}:${stat.ino}`).digest("hex").slice(0, 40)
    return `\0hermes-gateway/${key}`
  }
  return path.join(homeDir, "gateway.sock")
}

/**
 * One conversation with the holder of a home's lock: read its hello line, optionally send one
 * request line and read the answer. None when nobody answers within the time.
 */
const converse = (
  homeDir: string,
  request: Option.Option<unknown>,
  timeoutMs: number
): Effect.Effect<Option.Option<ReadonlyArray<string>>> =>
  Effect.async<Option.Option<ReadonlyArray<string>>>((resume) => {
    let address: string
    try {
      address = lockAddress(homeDir)
    } catch {
      resume(Effect.succeed(Option.none()))
      return
    }
    const wanted = Option.isSome(request) ? 2 : 1
    const socket = net.connect({ path: address })
    const lines: Array<string> = []
    let buffer = ""
    let done = false
    const finish = (value: Option.Option<ReadonlyArray<string>>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(value))
    }
    const timer = setTimeout(() => finish(Option.none()), timeoutMs)
    socket.setEncoding("utf8")
    socket.on("connect", () => {
      if (Option.isSome(request)) socket.write(JSON.stringify(request.value) + "\n")
    })
    socket.on("data", (chunk: string) => {
      buffer += chunk
      let newline = buffer.indexOf("\n")
      while (newline >= 0) {
        lines.push(buffer.slice(0, newline))
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf("\n")
      }
      if (lines.length >= wanted) finish(Option.some(lines))
    })
    socket.on("error", () => finish(Option.none()))
    socket.on("end", () => finish(Option.none()))
    return Effect.sync(() => finish(Option.none()))
  })

/** Asks the holder of a home's lock who it is; None when no gateway holds it. */
export const probeLock = (homeDir: string, timeoutMs = 1000): Effect.Effect<Option.Option<LockHello>> =>
  converse(homeDir, Option.none(), timeoutMs).pipe(Effect.map(Option.flatMap((lines) => decodeHello(lines[0]!))))

const decodeHello = (line: string): Option.Option<LockHello> => {
  try {
    return Schema.decodeUnknownOption(LockHello)(JSON.parse(line))
  } catch {
    return Option.none()
  }
}

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
    server.listen({ path: address })
  })

/**
 * The lock socket doubles as the gateway's control channel: after the hello line a client may send
 * one JSON request line and gets one JSON answer line. That is how the CLI reads sessions without
 * a second process opening the database.
 */
export interface ControlServer {
  readonly serve: (handler: (request: unknown) => Promise<unknown>) => void
}

const maxRequestBytes = 64 * 1024

/** Holds the home's lock for the life of the scope. */
export const acquireInstanceLock = (
  homeDir: string,
  hello: LockHello
): Effect.Effect<ControlServer, HomeLocked | LockError, import("effect/Scope").Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const address = yield* Effect.try({
        try: () => lockAddress(homeDir),
        catch: (error) => new LockError({ message: `cannot identify home ${homeDir}: ${describeError(error)}` })
      })
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
      const attempt = Effect.tryPromise({ try: () => listen(server, address), catch: (error) => error as NodeJS.ErrnoException })
      const held = yield* attempt.pipe(
        Effect.as(true),
        Effect.catchAll((error) => error.code === "EADDRINUSE" ? Effect.succeed(false) : Effect.fail(error))
      ).pipe(Effect.mapError((error) => new LockError({ message: `cannot take the home lock: ${describeError(error)}` })))
      if (!held) {
        const holder = yield* probeLock(homeDir)
        if (Option.isSome(holder)) {
          return yield* new HomeLocked({
            pid: holder.value.pid,
            message: `home ${homeDir} is held by a running gateway (pid ${holder.value.pid}); stop it first with \`hermes gateway stop\``
          })
        }
        if (!address.startsWith("\0")) {
          // A socket file with no listener is left over from a killed gateway.
          fs.rmSync(address, { force: true })
          yield* attempt.pipe(Effect.mapError(() =>
            new HomeLocked({ pid: null, message: `home ${homeDir} is locked by another process` })
          ))
        } else {
          return yield* new HomeLocked({ pid: null, message: `home ${homeDir} is locked by a process that does not answer` })
        }
      }
      server.unref()
      const control: ControlServer = { serve: (h) => void (handler = h) }
      return { server, sockets, control }
    }),
    ({ server, sockets }) =>
      Effect.sync(() => {
        for (const socket of sockets) socket.destroy()
        server.close()
      })
  ).pipe(Effect.map(({ control }) => control))

/** Sends one request over a live gateway's control channel; None when no gateway answers. */
export const requestControl = (
  homeDir: string,
  request: unknown,
  timeoutMs = 10_000
): Effect.Effect<Option.Option<unknown>> =>
  converse(homeDir, Option.some(request), timeoutMs).pipe(
    Effect.map(Option.flatMap((lines) => {
      try {
        return Option.some(JSON.parse(lines[1]!) as unknown)
      } catch {
        return Option.none()
      }
    }))
  )
