// bench/worker-floor.ts's plain echo: node:http (through `require`, as the gateway loads it) that
// listens once its worker threads run, then says "ready" on stdout.
import { createRequire } from "node:module"
import { startWorkers, workerCount } from "./FloorWorkers.js"

const http: typeof import("node:http") = createRequire(import.meta.url)("node:http")

void startWorkers(workerCount()).then(() =>
  http.createServer((_request, response) => response.end("ok\n")).listen(0, "127.0.0.1", () => process.stdout.write("ready\n"))
)
