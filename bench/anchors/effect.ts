// The `effect` anchor of bench/side-by-side.ts: bench/anchors/bare.ts's echo on @effect/platform's
// HttpServer and NodeRuntime.runMain, the floor an Effect server can reach. The benchmark bundles it
// with esbuild into a temp dir (as the gateway is bundled) and runs it as `node effect.mjs PORT`.
// SIGTERM interrupts the main fiber: runMain closes the server and exits.
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { echoCompletion } from "./EchoCompletion.js"
import { eventLoopDelayExposition, startEventLoopDelayProbe } from "./EventLoopDelayProbe.js"

const port = Number(process.argv[2])
const probe = startEventLoopDelayProbe()

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/readyz", HttpServerResponse.text("ready\n")),
  HttpRouter.get("/metrics", Effect.sync(() => HttpServerResponse.text(eventLoopDelayExposition(probe)))),
  HttpRouter.post(
    "/v1/chat/completions",
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.json).pipe(
      Effect.flatMap((body) => Effect.try(() => echoCompletion(body))),
      Effect.flatMap((answer) => HttpServerResponse.json(answer)),
      Effect.catchAll(() => HttpServerResponse.empty({ status: 400 }))
    )
  )
)

const server = HttpServer.serve(router).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port }))
)

NodeRuntime.runMain(Layer.launch(server))
