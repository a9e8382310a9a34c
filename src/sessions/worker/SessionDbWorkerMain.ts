// Entry point of the SessionDB worker thread (bundled as dist/session-db-worker.js beside
// dist/hermes.js). The gateway starts it with WorkerSessionDb.ts; it ends when the gateway closes
// the database, or with the thread when the gateway terminates it.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { parentPort } from "node:worker_threads"
import { resolveEngine } from "../SqliteEngine.js"
import { loadWasmSqlite } from "../WasmSqliteDriver.js"
import { forwardingLogger, serveSessionDb, type WorkerChannel } from "./SessionDbWorker.js"

const port = parentPort
if (port === null) throw new Error("the SessionDB worker runs only as a worker thread")

// The engine this Node would pick is loaded now, while the gateway still starts up (a thread started
// early by Prestart.ts): compiling node-sqlite3-wasm is the longest part of opening the database. The
// open loads the engine it is asked for; an engine loaded here is only found already loaded.
if (resolveEngine("auto") === "node-sqlite3-wasm") loadWasmSqlite().catch(() => undefined)

const channel: WorkerChannel = {
  post: (message) => port.postMessage(message),
  listen: (onMessage) => port.on("message", onMessage),
  stop: () => port.removeAllListeners("message")
}

// A defect that ends the program (a bug) ends the thread too: the gateway then fails the calls that
// wait on it and starts another, where a thread left listening would leave them waiting forever.
Effect.runFork(serveSessionDb(channel).pipe(Effect.provide(forwardingLogger(channel)))).addObserver((exit) => {
  if (Exit.isFailure(exit)) {
    channel.post({ _tag: "Log", level: "Error", message: `session db worker stopped: ${Cause.pretty(exit.cause)}` })
    process.exit(70)
  }
})
