// The supervisor's kill timeout against the shutdown budget (CONTRACT 3.3): one rule for the
// start-up warning and doctor, at least hard deadline + 5 s, and the live readers' pure parts.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseTimeoutStopUSec } from "../../../src/config/Duration.js"
import { hardDeadline, killTimeoutTooShort, minimumKillTimeout, type ShutdownBudget } from "../../../src/lifecycle/ShutdownBudget.js"
import { killTimeoutSeconds } from "../../../src/supervision/Definition.js"
import { parseConfigInfo, readStopWait, rpcEndpoint, stopWaitOf } from "../../../src/supervision/SupervisordRpc.js"
import { budgetWarning } from "../../../src/supervision/SupervisorTimeout.js"
import { defaultBudget } from "./fixtures.js"

const live = (text: string) => ({ timeout: Either.getOrThrow(parseTimeoutStopUSec(text)), source: "systemd TimeoutStopUSec of x.service" })
const budgetOfMillis = (drain: number, disconnect: number, dbClose: number): ShutdownBudget => ({
  ...defaultBudget,
  drain: Duration.millis(drain),
  adapterDisconnect: Duration.millis(disconnect),
  dbClose: Duration.millis(dbClose)
})

describe("kill timeout rule: at least hard deadline + 5 s", () => {
  it("the default budget needs 40s: exactly 40s is enough, one millisecond less is not", () => {
    expect(Duration.toMillis(hardDeadline(defaultBudget))).toBe(35_000)
    expect(killTimeoutTooShort(defaultBudget, Duration.seconds(40))).toBe(false)
    expect(killTimeoutTooShort(defaultBudget, Duration.millis(39_999))).toBe(true)
    // Between the hard deadline and the minimum: the case the old rule let through.
    expect(killTimeoutTooShort(defaultBudget, Duration.seconds(37))).toBe(true)
    expect(killTimeoutTooShort(defaultBudget, Duration.infinity)).toBe(false)
  })

  const millis = FastCheck.integer({ min: 0, max: 2 * 3600 * 1000 })
  it.prop(
    "for any budget: the boundary itself passes, one millisecond below warns, and so does anything shorter",
    [millis, millis, millis, FastCheck.integer({ min: 1, max: 3600 * 1000 })],
    ([drain, disconnect, dbClose, below]) => {
      const budget = budgetOfMillis(drain, disconnect, dbClose)
      const boundary = drain + disconnect + dbClose + 5_000 + 5_000
      expect(Duration.toMillis(minimumKillTimeout(budget))).toBe(boundary)
      expect(killTimeoutTooShort(budget, Duration.millis(boundary))).toBe(false)
      expect(killTimeoutTooShort(budget, Duration.millis(boundary - 1))).toBe(true)
      expect(killTimeoutTooShort(budget, Duration.millis(Math.max(0, boundary - below)))).toBe(true)
      expect(killTimeoutTooShort(budget, Duration.millis(boundary + below))).toBe(false)
      // What install writes always satisfies the rule it is checked against.
      expect(killTimeoutTooShort(budget, Duration.seconds(killTimeoutSeconds(budget)))).toBe(false)
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "the warning exists exactly when the rule says too short",
    [millis, millis, millis, FastCheck.integer({ min: 0, max: 4 * 3600 * 1000 })],
    ([drain, disconnect, dbClose, timeout]) => {
      const budget = budgetOfMillis(drain, disconnect, dbClose)
      const supervisor = { timeout: Duration.millis(timeout), source: "s6 timeout-kill of /srv/x" }
      expect(Option.isSome(budgetWarning(supervisor, budget))).toBe(killTimeoutTooShort(budget, supervisor.timeout))
    },
    { fastCheck: { numRuns: 200 } }
  )
})

describe("supervisor budget warning", () => {
  it("names the supervisor's number, the minimum it should be and the hard deadline", () => {
    const warning = Option.getOrThrow(budgetWarning(live("37s"), defaultBudget))
    expect(warning).toContain("systemd TimeoutStopUSec of x.service is 37s")
    expect(warning).toContain("shorter than the 40s the shutdown budget needs (hard deadline 35s + 5s)")
    expect(warning).toContain("at least 40s")
  })
  it("is silent when the timeout covers the budget, including systemd's all-digit microseconds and infinity", () => {
    expect(Option.isNone(budgetWarning(live("40000000"), defaultBudget))).toBe(true)
    expect(Option.isSome(budgetWarning(live("39999999"), defaultBudget))).toBe(true)
    expect(Option.isNone(budgetWarning(live("infinity"), defaultBudget))).toBe(true)
    expect(Option.isSome(budgetWarning(live("1min 30s"), budgetOfMillis(85_000, 0, 1)))).toBe(true)
  })
})

describe("supervisord: stopwaitsecs from getAllConfigInfo", () => {
  // Captured from supervisord 4.2.5: program hermes-gateway (stopwaitsecs=37) and program `other`
  // in group `chat` (stopwaitsecs=12).
  const captured = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "captured", "supervisord-getAllConfigInfo.xml"), "utf8")

  it("reads each program's flat struct, arrays left as text", () => {
    const programs = parseConfigInfo(captured)
    expect(programs.map((p) => [p.group, p.name, p.stopwaitsecs])).toEqual([["hermes-gateway", "hermes-gateway", "37"], ["chat", "other", "12"]])
    expect(programs[0]!.exitcodes).toContain("<int>78</int>")
  })
  it("finds the program by the name supervisorctl uses: `name`, or `group:name` in a group of another name", () => {
    expect(stopWaitOf(captured, "hermes-gateway")).toEqual(Option.some(Duration.seconds(37)))
    expect(stopWaitOf(captured, "chat:other")).toEqual(Option.some(Duration.seconds(12)))
    expect(stopWaitOf(captured, "other")).toEqual(Option.none())
    expect(stopWaitOf(captured, "missing")).toEqual(Option.none())
  })
  it("a fault, an empty or a foreign answer gives nothing", () => {
    const fault = "<?xml version='1.0'?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member>" +
      "<member><name>faultString</name><value><string>UNKNOWN_METHOD</string></value></member></struct></value></fault></methodResponse>"
    expect(stopWaitOf(fault, "hermes-gateway")).toEqual(Option.none())
    expect(stopWaitOf("", "hermes-gateway")).toEqual(Option.none())
    expect(stopWaitOf("<html>401 Unauthorized</html>", "hermes-gateway")).toEqual(Option.none())
  })
  it("reaches supervisord at the SUPERVISOR_SERVER_URL forms it sets: unix socket or http", () => {
    expect(rpcEndpoint("unix:///var/run/supervisor.sock")).toEqual(Option.some({ socketPath: "/var/run/supervisor.sock" }))
    expect(rpcEndpoint("http://127.0.0.1:9001")).toEqual(Option.some({ host: "127.0.0.1", port: 9001 }))
    expect(rpcEndpoint("unix://relative.sock")).toEqual(Option.none())
    expect(rpcEndpoint("https://example.org")).toEqual(Option.none())
    expect(rpcEndpoint("not a url")).toEqual(Option.none())
  })
})

describe("supervisord: the XML-RPC call", () => {
  const captured = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "captured", "supervisord-getAllConfigInfo.xml"), "utf8")

  /** A unix-socket HTTP server answering like supervisord would (or not at all), removed after the test. */
  const withServer = <A>(
    handler: http.RequestListener,
    body: (serverUrl: string, requests: Array<string>) => Effect.Effect<A>
  ): Effect.Effect<A> =>
    Effect.acquireUseRelease(
      Effect.async<{ server: http.Server; dir: string; requests: Array<string> }>((resume) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-svrpc-"))
        const requests: Array<string> = []
        const server = http.createServer((request, response) => {
          let text = ""
          request.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => {
            requests.push(`${request.method} ${request.url} ${text}`)
            handler(request, response)
          })
        })
        server.listen(path.join(dir, "supervisor.sock"), () => resume(Effect.succeed({ server, dir, requests })))
      }),
      ({ dir, requests }) => body(`unix://${path.join(dir, "supervisor.sock")}`, requests),
      ({ dir, server }) =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => {
            fs.rmSync(dir, { recursive: true, force: true })
            resume(Effect.void)
          })
        })
    )

  it.live("asks getAllConfigInfo on /RPC2 and reads the program's stopwaitsecs", () =>
    withServer((_, response) => response.writeHead(200, { "content-type": "text/xml" }).end(captured), (url, requests) =>
      Effect.gen(function*() {
        expect(yield* readStopWait(url, "hermes-gateway")).toEqual(Option.some(Duration.seconds(37)))
        expect(requests).toHaveLength(1)
        expect(requests[0]).toMatch(/^POST \/RPC2 .*<methodName>supervisor\.getAllConfigInfo<\/methodName>/)
      })))

  it.live("a password-protected server (401) leaves it unread", () =>
    withServer((_, response) => response.writeHead(401).end("Unauthorized"), (url) =>
      Effect.gen(function*() {
        expect(yield* readStopWait(url, "hermes-gateway")).toEqual(Option.none())
      })))

  it.effect("a server that never answers leaves it unread after 3 s (the start-up read never hangs)", () =>
    Effect.gen(function*() {
      const asked = yield* Deferred.make<void>()
      yield* withServer(() => Effect.runSync(Deferred.succeed(asked, undefined)), (url) =>
        Effect.gen(function*() {
          const reading = yield* Effect.fork(readStopWait(url, "hermes-gateway"))
          yield* Deferred.await(asked)
          yield* TestClock.adjust(Duration.millis(2_999))
          expect(Option.isNone(yield* Fiber.poll(reading))).toBe(true)
          yield* TestClock.adjust(Duration.millis(1))
          expect(yield* Fiber.join(reading)).toEqual(Option.none())
        }))
    }))

  it.live("no socket at the URL leaves it unread", () =>
    Effect.gen(function*() {
      expect(yield* readStopWait(`unix://${path.join(os.tmpdir(), "hermes-no-such-dir", "supervisor.sock")}`, "hermes-gateway"))
        .toEqual(Option.none())
    }))
})
