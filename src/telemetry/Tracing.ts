// OpenTelemetry traces of one gateway life, sent over OTLP/HTTP by @effect/opentelemetry's own
// exporter (Effect's HttpClient on fetch; no OpenTelemetry SDK). Present only when configured:
// without it there is no exporter, no timer and no span (the span helpers check for this service).
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Tracer from "effect/Tracer"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import type { ConfigError } from "../config/LoadConfig.js"
import { exitCodeOf } from "../lifecycle/ExitCode.js"
import { displayUrl, type TraceSettings, traceSettings } from "./TraceSettings.js"

/**
 * How long the spans still buffered at exit may take to reach the collector. It comes after the
 * final state is written and is part of the teardown's 5 s slack (CONTRACT 3.3): the short steps
 * are bounded to 4 s together, so an unreachable or silent collector costs at most this much.
 */
export const traceFlushBound = Duration.seconds(1)

/** Span names and attribute keys: what an operator's trace queries rely on (README, Traces). */
export const SpanName = {
  startup: "startup",
  shutdown: "shutdown",
  phase: (phase: string) => `shutdown.${phase}`,
  turn: "turn"
} as const

export interface TracingService {
  /** The start-up span ends: the gateway is ready (state running). Later calls do nothing. */
  readonly startupReady: Effect.Effect<void>
  /** The shutdown span starts (phase 0), recording how the stop was classified. Once per life. */
  readonly beginShutdown: (classification: string) => Effect.Effect<void>
  /** The span every shutdown phase hangs under; started here if phase 0 was never reached. */
  readonly shutdownSpan: Effect.Effect<Tracer.Span>
}

export class Tracing extends Context.Tag("hermes/Tracing")<Tracing, TracingService>() {}

/** When this process started (performance.timeOrigin is in milliseconds, with a fraction). */
export const processStartNanos = (): bigint => BigInt(Math.round(performance.timeOrigin * 1000)) * 1000n

/**
 * The exporter and the two long spans of a life. Released after the gateway's own finalizers: the
 * spans still open are ended first (with the life's exit code), then the exporter sends what it
 * holds, within `flushBound`.
 */
export const tracingLayer = (settings: TraceSettings, flushBound: Duration.Duration = traceFlushBound): Layer.Layer<Tracing> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const tracer = yield* OtlpTracer.make({
      url: settings.url,
      resource: { serviceName: settings.serviceName },
      headers: settings.headers,
      shutdownTimeout: flushBound
    }).pipe(
      Effect.provide(FetchHttpClient.layer),
      Effect.provide(settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf)
    )
    const open = (name: string, startTime: bigint, attributes: Record<string, unknown>): Tracer.Span => {
      const span = tracer.span(name, Option.none(), Context.empty(), [], startTime, "internal")
      for (const [key, value] of Object.entries(attributes)) span.attribute(key, value)
      return span
    }
    const startup = yield* Ref.make(Option.some(open(SpanName.startup, processStartNanos(), { "hermes.pid": process.pid })))
    const shutdown = yield* Ref.make(Option.none<Tracer.Span>())
    const endStartup = (attributes: Record<string, unknown>, exit: Exit.Exit<unknown, unknown>) =>
      Effect.flatMap(Ref.getAndSet(startup, Option.none()), (span) =>
        Option.match(span, {
          onNone: () => Effect.void,
          onSome: (span) =>
            Effect.map(Clock.currentTimeNanos, (now) => {
              for (const [key, value] of Object.entries(attributes)) span.attribute(key, value)
              span.end(now, exit)
            })
        }))
    const shutdownSpan = (classification: string | undefined) =>
      Effect.flatMap(Clock.currentTimeNanos, (now) =>
        Ref.modify(shutdown, (current): [Tracer.Span, Option.Option<Tracer.Span>] => {
          if (Option.isSome(current)) return [current.value, current]
          const span = open(SpanName.shutdown, now, classification === undefined ? {} : { "hermes.stop.classification": classification })
          return [span, Option.some(span)]
        }))

    // Registered after the exporter's own finalizer, so it runs first: no span is left open when
    // the exporter sends its last batch.
    yield* Effect.addFinalizer((exit) =>
      Effect.gen(function*() {
        const code = exitCodeOf(exit)
        yield* endStartup({ "hermes.startup.outcome": "abandoned", "hermes.exit_code": code }, exit)
        const span = yield* Ref.get(shutdown)
        if (Option.isSome(span)) {
          span.value.attribute("hermes.exit_code", code)
          // An unplanned stop or a restart is how this life ended, not a failure of its shutdown.
          span.value.end(yield* Clock.currentTimeNanos, Exit.void)
        }
      })
    )
    yield* Effect.log(`traces go to ${displayUrl(settings.url)} (OTLP ${settings.protocol}, service ${settings.serviceName})`)
    const service: TracingService = {
      startupReady: endStartup({ "hermes.startup.outcome": "ready" }, Exit.void),
      beginShutdown: (classification) => Effect.asVoid(shutdownSpan(classification)),
      shutdownSpan: shutdownSpan(undefined)
    }
    return Layer.mergeAll(
      Layer.setTracer(tracer),
      // Outgoing requests are no spans: a client span records the full URL, and Telegram's bot
      // token is part of every Bot API URL (a model server's key may sit in a query). This also
      // keeps trace headers off requests to Telegram and the model server.
      Layer.scopedDiscard(Effect.locallyScoped(HttpClient.currentTracerDisabledWhen, () => true)),
      Layer.succeed(Tracing, service)
    )
  }))

/**
 * Runs a gateway life with traces when the configuration or the OTEL_* environment asks for them,
 * and exactly as it is otherwise. An unusable OTEL_* value fails it with a ConfigError (exit 78).
 */
export const withTracing = (telemetry: GatewayConfig["telemetry"], env: Readonly<Record<string, string | undefined>>) =>
<A, E, R>(life: Effect.Effect<A, E, R>): Effect.Effect<A, E | ConfigError, Exclude<R, Tracing>> =>
  Either.match(traceSettings(telemetry, env), {
    onLeft: (error) => Effect.fail(error),
    onRight: Option.match({
      onNone: () => life as Effect.Effect<A, E, Exclude<R, Tracing>>,
      onSome: (settings) => Effect.provide(life, tracingLayer(settings))
    })
  })
