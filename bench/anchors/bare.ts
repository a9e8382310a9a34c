// The `bare` anchor of bench/side-by-side.ts: the least a Node HTTP echo can cost. Bundled by the
// benchmark (esbuild, into a temp dir) and run as `node bare.mjs PORT`; the bundling loads node:http
// with `require`, as the gateway does (bench/lib/Targets.ts says why).
//   POST /v1/chat/completions  an OpenAI-shaped answer echoing the last message
//   GET /readyz                200
//   GET /metrics               event-loop delay p99 since the previous GET /metrics
// SIGTERM closes the server and exits, as a daemon would.
import * as http from "node:http"
import { eventLoopDelayExposition, startEventLoopDelayProbe } from "./EventLoopDelayProbe.js"
import { echoCompletion } from "./EchoCompletion.js"

const port = Number(process.argv[2])
const probe = startEventLoopDelayProbe()

const server = http.createServer((request, response) => {
  if (request.method === "GET" && request.url === "/readyz") return void response.end("ready\n")
  if (request.method === "GET" && request.url === "/metrics") return void response.end(eventLoopDelayExposition(probe))
  if (request.method !== "POST" || request.url !== "/v1/chat/completions") {
    response.statusCode = 404
    return void response.end()
  }
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    let body: string
    try {
      body = JSON.stringify(echoCompletion(JSON.parse(Buffer.concat(chunks).toString("utf8"))))
    } catch {
      response.statusCode = 400
      return void response.end()
    }
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    response.end(body)
  })
})

server.listen(port, "127.0.0.1")
process.once("SIGTERM", () => server.close(() => process.exit(0)))
