// The HTTP API adapter: an OpenAI-compatible server on node:http whose intake follows the kernel's
// lifecycle (starting -> open -> draining) and whose shutdown never waits on a client.
import type * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Redacted from "effect/Redacted"
import * as Fiber from "effect/Fiber"
import * as LogLevel from "effect/LogLevel"
import * as Ref from "effect/Ref"
import * as FiberSet from "effect/FiberSet"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Scope from "effect/Scope"
import { ExitCode } from "../../lifecycle/ExitCode.js"
import { nodeHttp } from "../../platform/NodeHttp.js"
import { type Adapter, AdapterConnectError, type IntakeContext, type PlatformInfo, type Readiness, type TurnIntake } from "../Adapter.js"
import { isAuthorized } from "./BearerAuth.js"
import { handleChatCompletion, type ChatCompletionsContext } from "./ChatCompletions.js"
import { prometheusExposition, recordRefusal } from "../../metrics/GatewayMetrics.js"
import { prometheusContentType } from "../../metrics/PrometheusText.js"
import { closeAfterAnswer, type Exchange, makeExchange, sendJson, sendRejection, sendText } from "./Exchange.js"
import { modelList, modelObject } from "./OpenAiResponses.js"
import {
  internalError,
  methodNotAllowed,
  modelNotFound,
  notFound,
  type RequestRejected,
  unauthorized,
  unavailable
} from "./RequestRejected.js"
import { capConnections, type Report, serverOptions, watchedBodyBudget } from "./ServerLimits.js"

export interface HttpAdapterOptions {
  readonly host: string
  /** 0 picks a free port; the one actually bound is reported by `connect`. */
  readonly port: number
  /** Bearer auth on every route but the probes when set. */
  readonly apiKey: Redacted.Redacted<string> | null
  readonly maxBodyBytes: number
  /** Connections open at once; more are closed as soon as they are accepted. */
  readonly maxConnections: number
  /** A request's headers and body must arrive within this long (else 408 and closed). */
  readonly requestTimeoutMillis: number
  /** Memory that bodies being received may hold together; beyond it 503 with Retry-After. */
  readonly maxInflightBodyBytes: number
  /** Model name to report (the Agent's). */
  readonly model: string
  /** Retry-After on 503 answers while starting or draining; default 5. */
  readonly retryAfterSeconds?: number
}

type Gate =
  | { readonly _tag: "Starting" }
  | { readonly _tag: "Open"; readonly intake: TurnIntake; readonly readiness: Effect.Effect<Readiness> }
  | { readonly _tag: "Draining" }

const defaultRetryAfterSeconds = 5

/**
 * At disconnect, how long handlers that were just told to stop get for their last bytes to reach
 * clients before every socket is cut. Short: the kernel bounds the whole step anyway.
 */
const closeGraceMillis = 500

const probeMethods = ["GET", "HEAD"] as const

const describeListenError = (error: unknown): { readonly code: string | undefined; readonly reason: string } => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case "EADDRINUSE":
      return { code, reason: "address already in use (EADDRINUSE)" }
    case "EACCES":
      return { code, reason: "permission denied (EACCES)" }
    case "EADDRNOTAVAIL":
      return { code, reason: "address not available on this host (EADDRNOTAVAIL)" }
    default:
      return { code, reason: error instanceof Error ? error.message : String(error) }
  }
}

const connectErrorOf = (options: HttpAdapterOptions, error: unknown): AdapterConnectError => {
  const { code, reason } = describeListenError(error)
  // A name that does not resolve or a port out of range is the operator's to fix (never restarted);
  // anything else may clear up by itself (restarted after a delay).
  const misconfigured = code === "ENOTFOUND" || code === "ERR_SOCKET_BAD_PORT"
  return new AdapterConnectError({
    adapter: "http",
    message: `http adapter cannot listen on ${options.host}:${options.port}: ${reason}`,
    exitCode: misconfigured ? ExitCode.Config : ExitCode.Unavailable
  })
}

const listen = (server: http.Server, options: HttpAdapterOptions): Effect.Effect<AddressInfo, AdapterConnectError> =>
  Effect.async<AddressInfo, AdapterConnectError>((resume) => {
    const onError = (error: Error) => {
      server.off("listening", onListening)
      resume(Effect.fail(connectErrorOf(options, error)))
    }
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.succeed(server.address() as AddressInfo))
    }
    server.once("error", onError)
    server.once("listening", onListening)
    try {
      server.listen({ host: options.host, port: options.port })
    } catch (error) {
      // Invalid arguments (a port out of range) throw instead of emitting.
      server.off("error", onError)
      server.off("listening", onListening)
      resume(Effect.fail(connectErrorOf(options, error)))
    }
    return Effect.sync(() => {
      server.off("error", onError)
      server.off("listening", onListening)
      server.close()
    })
  })

const urlHost = (host: string): string => host.includes(":") ? `[${host}]` : host

/** Forks one request's handler into the adapter's FiberSet, from Node's request callback. */
type RunRequest = (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void, never>

const pathOf = (url: string | undefined): string => (url ?? "/").split("?")[0]!

export const makeHttpAdapter = (options: HttpAdapterOptions): Effect.Effect<Adapter> =>
  Effect.gen(function*() {
    const retryAfterSeconds = options.retryAfterSeconds ?? defaultRetryAfterSeconds
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const gate = yield* Ref.make<Gate>({ _tag: "Starting" })
    // Node owns these objects and calls us back synchronously, so plain mutable holders fit better
    // than Effect state here. The fibers themselves belong to the FiberSet made in connect; this map
    // only finds a request's exchange (to close it after its answer, or to notify it).
    const inFlight = new Map<Exchange, Fiber.RuntimeFiber<void, never>>()
    let listening:
      | { readonly server: http.Server; readonly info: PlatformInfo; readonly requests: Scope.CloseableScope }
      | undefined
    // Limits log through the runtime captured by connect; nothing can hit them before it.
    let report: Report = () => {}
    const bodyBudget = watchedBodyBudget(options.maxInflightBodyBytes, (log) => report(log))

    const refuse = (code: "starting" | "draining") =>
      Effect.zipRight(recordRefusal("http", code), Effect.fail(unavailable(code, retryAfterSeconds)))

    // Refused as soon as readiness is false, not only once intake stops (shutdown step 2): a stop is
    // decided, /readyz already says draining, and a request that slipped in before step 2 would only
    // lengthen the drain. The marker step may take a while on a slow disk; nothing new starts meanwhile.
    const openIntake: Effect.Effect<TurnIntake, RequestRejected> = Effect.flatMap(
      Ref.get(gate),
      (current) =>
        current._tag === "Open"
          ? Effect.flatMap(current.readiness, (readiness) =>
            readiness === "ready" ? Effect.succeed(current.intake) : refuse(readiness))
          : refuse(current._tag === "Starting" ? "starting" : "draining")
    )

    const completions: ChatCompletionsContext = {
      model: options.model,
      maxBodyBytes: options.maxBodyBytes,
      bodyBudget,
      retryAfterSeconds,
      openIntake
    }

    const allow = (method: string, path: string, methods: ReadonlyArray<string>): Effect.Effect<void, RequestRejected> =>
      methods.includes(method) ? Effect.void : Effect.fail(methodNotAllowed(method, path, methods))

    const route = (exchange: Exchange, method: string, path: string): Effect.Effect<void, RequestRejected> =>
      Effect.gen(function*() {
        const current = yield* Ref.get(gate)
        if (current._tag === "Draining") closeAfterAnswer(exchange)

        // Probes stay unauthenticated: supervisors and load balancers hold no API key.
        if (path === "/healthz") {
          yield* allow(method, path, probeMethods)
          return sendJson(exchange, 200, { status: "ok" })
        }
        if (path === "/readyz") {
          yield* allow(method, path, probeMethods)
          // Once intake is open the gateway's lifecycle decides: not ready from the moment a stop is decided.
          const readiness = current._tag === "Open" ? yield* current.readiness : current._tag === "Starting" ? "starting" : "draining"
          return readiness === "ready"
            ? sendJson(exchange, 200, { status: "ready" })
            : sendJson(exchange, 503, { status: readiness })
        }

        // Checked before routing so an unauthenticated client cannot map the API.
        if (options.apiKey !== null && !isAuthorized(exchange.req.headers.authorization, options.apiKey)) {
          return yield* Effect.fail(unauthorized())
        }
        // Behind the key like the API: metrics name platforms and traffic.
        if (path === "/metrics") {
          yield* allow(method, path, probeMethods)
          return sendText(exchange, 200, yield* prometheusExposition, prometheusContentType)
        }
        if (path === "/v1/models") {
          yield* allow(method, path, probeMethods)
          return sendJson(exchange, 200, modelList(options.model, created))
        }
        if (path.startsWith("/v1/models/")) {
          yield* allow(method, path, probeMethods)
          let id: string
          try {
            id = decodeURIComponent(path.slice("/v1/models/".length))
          } catch {
            return yield* Effect.fail(notFound(method, path))
          }
          if (id !== options.model) return yield* Effect.fail(modelNotFound(id))
          return sendJson(exchange, 200, modelObject(options.model, created))
        }
        if (path === "/v1/chat/completions") {
          yield* allow(method, path, ["POST"])
          return yield* handleChatCompletion(exchange, completions)
        }
        return yield* Effect.fail(notFound(method, path))
      })

    const shuttingDown = () => unavailable("interrupted", retryAfterSeconds)

    const serve = (exchange: Exchange): Effect.Effect<void> => {
      const method = exchange.req.method ?? "GET"
      const path = pathOf(exchange.req.url)
      return Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        yield* route(exchange, method, path).pipe(
          Effect.catchTag("RequestRejected", (rejection) => Effect.sync(() => sendRejection(exchange, rejection))),
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              // The turn was interrupted under us (shutdown): the client should retry elsewhere.
              ? Effect.sync(() => sendRejection(exchange, shuttingDown()))
              : Effect.logError("http request failed", cause).pipe(
                Effect.zipRight(Effect.sync(() => sendRejection(exchange, internalError())))
              )
          )
        )
        // Built only when debug lines are written: otherwise it was dropped after being annotated.
        yield* Effect.whenLogLevel(
          Effect.flatMap(Clock.currentTimeMillis, (finished) =>
            Effect.logDebug("http request").pipe(
              Effect.annotateLogs({ status: exchange.res.statusCode, duration_ms: finished - started })
            )),
          LogLevel.Debug
        )
      }).pipe(
        // Interrupted by disconnect: answer rather than cut the connection mid-request.
        Effect.onInterrupt(() =>
          Effect.sync(() => sendRejection(exchange, shuttingDown())).pipe(
            Effect.zipRight(Effect.logDebug("http request interrupted"))
          )
        ),
        Effect.annotateLogs({ adapter: "http", method, path })
      )
    }

    const onRequest = (
      runRequest: RunRequest,
      runtime: Runtime.Runtime<never>,
      req: http.IncomingMessage,
      res: http.ServerResponse,
      expectsContinue: boolean
    ) => {
      const exchange = makeExchange(req, res, expectsContinue)
      // Writes to a client that left may emit errors; the handler already treats them as no-ops.
      res.on("error", () => {})
      try {
        const fiber = runRequest(serve(exchange))
        inFlight.set(exchange, fiber)
        fiber.addObserver(() => inFlight.delete(exchange))
      } catch (error) {
        // Never let a request take the process down, even if the runtime itself refuses to fork.
        inFlight.delete(exchange)
        sendRejection(exchange, internalError())
        Runtime.runFork(runtime)(Effect.logError("http request could not start", Cause.die(error)))
      }
    }

    const connect: Effect.Effect<PlatformInfo, AdapterConnectError> = Effect.gen(function*() {
      if (listening !== undefined) return listening.info
      // Captured here so handlers log through the program's logger and annotations. connect often
      // runs as a resource's acquire, which is uninterruptible: handlers must not inherit that, or
      // disconnect could never stop one.
      const runtime = Runtime.enableRuntimeFlag(yield* Effect.runtime<never>(), RuntimeFlags.Interruption)
      // Every request's fiber lives in this set, in a scope the adapter closes on disconnect. Made in
      // an interruptible region for the same reason as `runtime` above.
      const requests = yield* Scope.make()
      const runRequest: RunRequest = yield* FiberSet.makeRuntime<never, void, never>().pipe(
        Effect.interruptible,
        Scope.extend(requests)
      )
      report = (log) => {
        try {
          Runtime.runSync(runtime)(log.pipe(Effect.annotateLogs({ adapter: "http" })))
        } catch {
          // A log line is never worth failing a connection over.
        }
      }
      const server = nodeHttp.createServer(serverOptions(options))
      capConnections(server, options.maxConnections, (log) => report(log))
      server.on("request", (req, res) => onRequest(runRequest, runtime, req, res, false))
      // Handled ourselves so the go-ahead is sent only when the body is actually read, not to a
      // request that is refused (401, 413, 503) anyway.
      server.on("checkContinue", (req, res) => onRequest(runRequest, runtime, req, res, true))
      const address = yield* listen(server, options).pipe(Effect.tapError(() => Scope.close(requests, Exit.void)))
      server.on("error", (error) => {
        Runtime.runFork(runtime)(
          Effect.logError("http server error", Cause.fail(error)).pipe(Effect.annotateLogs({ adapter: "http" }))
        )
      })
      const info: PlatformInfo = {
        url: `http://${urlHost(options.host)}:${address.port}`,
        host: options.host,
        port: address.port
      }
      listening = { server, info, requests }
      yield* Effect.logDebug("http adapter listening").pipe(Effect.annotateLogs({ adapter: "http", url: info.url }))
      return info
    })

    const startIntake = (intake: TurnIntake, context: IntakeContext): Effect.Effect<void> =>
      Ref.set(gate, { _tag: "Open", intake, readiness: context.readiness })

    const stopIntake: Effect.Effect<void> = Ref.set(gate, { _tag: "Draining" }).pipe(
      // Answers still to come go out with Connection: close, so clients reconnect to a successor.
      Effect.zipRight(Effect.sync(() => inFlight.forEach((_, exchange) => closeAfterAnswer(exchange))))
    )

    const notifyInFlight = (reason: "stopping" | "restarting"): Effect.Effect<void> =>
      Effect.sync(() =>
        inFlight.forEach((_, exchange) => {
          try {
            exchange.events?.comment(`gateway ${reason}`)
          } catch {
            // Best effort by design: a notice must never hold up or fail the shutdown.
          }
        })
      )

    const disconnect: Effect.Effect<void> = Effect.suspend(() => {
      const current = listening
      if (current === undefined) return Effect.void
      listening = undefined
      const { server, requests } = current
      return Effect.gen(function*() {
        yield* Ref.set(gate, { _tag: "Draining" })
        const closed = yield* Deferred.make<void>()
        server.close(() => Deferred.unsafeDone(closed, Exit.void))
        server.closeIdleConnections()
        // Handlers still waiting (a turn that outlived the drain) answer 503 and end their stream,
        // on connections that close right after.
        inFlight.forEach((_, exchange) => closeAfterAnswer(exchange))
        yield* Effect.forEach([...inFlight.values()], Fiber.interruptFork, { discard: true })
        yield* Deferred.await(closed).pipe(Effect.timeoutOption(closeGraceMillis))
        server.closeAllConnections()
        yield* Deferred.await(closed).pipe(Effect.timeoutOption(closeGraceMillis))
        // Waits for the request fibers interrupted above to finish their own cleanup.
        yield* Scope.close(requests, Exit.void)
      }).pipe(
        // Cut off by the kernel's bound: nothing is left to wait for, so no socket stays open either.
        Effect.onInterrupt(() => Effect.sync(() => server.closeAllConnections()))
      )
    })

    return {
      name: "http",
      connect,
      startIntake,
      stopIntake,
      notifyInFlight,
      disconnect
    } satisfies Adapter
  })
