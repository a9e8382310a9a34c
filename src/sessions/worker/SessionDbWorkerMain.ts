// Entry point of the SessionDB worker thread (bundled as dist/session-db-worker.js beside
// dist/hermes.js). The gateway starts it with WorkerSessionDb.ts; it ends when the gateway closes
// the database, or with the thread when the gateway terminates it.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { parentPort } from "node:worker_threads"
import { forwardingLogger, serveSessionDb, type WorkerChannel } from "./SessionDbWorker.js"

const port = parentPort
if (port === null) throw new Error("the SessionDB worker runs only as a worker thread")

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
