// Entry point of the SessionDB worker thread (bundled as dist/session-db-worker.js beside
// dist/hermes.js). The gateway starts it with WorkerSessionDb.ts; it ends when the gateway closes
// the database, or with the thread when the gateway terminates it.
import * as Effect from "effect/Effect"
import { parentPort } from "node:worker_threads"
import { forwardingLogger, serveSessionDb, type WorkerChannel } from "./SessionDbWorker.js"

const port = parentPort
if (port === null) throw new Error("the SessionDB worker runs only as a worker thread")

const channel: WorkerChannel = {
  post: (message) => port.postMessage(message),
  listen: (onMessage) => port.on("message", onMessage),
  stop: () => port.removeAllListeners("message")
}

Effect.runFork(serveSessionDb(channel).pipe(Effect.provide(forwardingLogger(channel))))
