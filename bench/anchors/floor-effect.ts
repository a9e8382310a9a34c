// bench/worker-floor.ts's Effect echo: the plain echo with Effect's core and Schema loaded and used
// for each answer (what the design card requires of the gateway at the least), without
// @effect/platform's HTTP server, which the gateway does not use either.
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { createRequire } from "node:module"
import { startWorkers, workerCount } from "./FloorWorkers.js"

const http: typeof import("node:http") = createRequire(import.meta.url)("node:http")

const Greeting = Schema.Struct({ text: Schema.String, count: Schema.Number })
const answer = Schema.encode(Schema.parseJson(Greeting))({ text: "ok", count: 1 }).pipe(Effect.orDie)

void Effect.runPromise(Effect.promise(() => startWorkers(workerCount()))).then(() =>
  http.createServer((_request, response) => void Effect.runPromise(answer).then((body) => response.end(body)))
    .listen(0, "127.0.0.1", () => process.stdout.write("ready\n"))
)
