#!/usr/bin/env node
// Entry point: signal listeners first (before the heavy modules are evaluated), then Node's module
// compile cache, the SessionDB worker's head start, then the program itself, loaded as its own chunk
// so the cache covers it.
import "./EarlySignals.js"
import { enableCompileCache } from "./CompileCache.js"
import { prestartSessionDbWorker, startsGatewayRun } from "../sessions/worker/Prestart.js"
import { sessionDbWorkerFile } from "../sessions/worker/WorkerFile.js"

enableCompileCache()
// Bundled, `gateway run` starts the SessionDB's worker thread now: it loads on the other core while
// this thread loads the program (src/sessions/worker/Prestart.ts).
if (import.meta.url.endsWith(".js") && startsGatewayRun(process.argv.slice(2))) {
  prestartSessionDbWorker(new URL(`./${sessionDbWorkerFile}`, import.meta.url))
}
await import("./Main.js")
