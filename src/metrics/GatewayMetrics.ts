// The gateway's Prometheus metrics (served at GET /metrics), on Effect's Metric. Effect keeps metric
// state in one registry per process, which fits: one process is one gateway life. Every name
// starts with hermes_; README (HTTP API) lists them.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"
import * as MetricState from "effect/MetricState"
import type { TurnOutcome } from "../adapters/Adapter.js"
import { recordEventLoopDelay } from "./EventLoopDelay.js"
import { renderPrometheus } from "./PrometheusText.js"

// Every counter here only ever grows (incremental); every histogram measures seconds.
const counterKey = (name: string, description: string) => MetricKey.counter(name, { description, incremental: true })
const gauge = (name: string, description: string) => Metric.gauge(name, { description })
const secondsHistogramKey = (name: string, description: string, upperBounds: ReadonlyArray<number>) =>
  MetricKey.histogram(name, MetricBoundaries.fromIterable(upperBounds), description)
const secondsHistogram = (name: string, description: string, upperBounds: ReadonlyArray<number>) =>
  Metric.fromMetricKey(secondsHistogramKey(name, description, upperBounds))

/**
 * The series of `key` with these labels, made once per label set. Metric.tagged builds a new label
 * list on every update, which misses Effect's per-metric cache and hashes the key into the registry
 * again: per turn, that was most of what counting it cost. The same series either way.
 */
const labelled = <T extends MetricKeyType.MetricKeyType<any, any>>(key: MetricKey.MetricKey<T>) => {
  const series = new Map<string, Metric.Metric<T, MetricKeyType.MetricKeyType.InType<T>, MetricKeyType.MetricKeyType.OutType<T>>>()
  return (labels: ReadonlyArray<readonly [string, string]>) => {
    const id = labels.map(([name, value]) => `${name}\u0000${value}`).join("\u0001")
    let metric = series.get(id)
    if (metric === undefined) {
      metric = Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels.map(([name, value]) => MetricLabel.make(name, value))))
      series.set(id, metric)
    }
    return metric
  }
}

/** A turn lasts from milliseconds (the echo agent) to minutes (a model that thinks long). */
const turnSecondsBounds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
/** Each commit waits for an fsync (synchronous=FULL): milliseconds normally, seconds on a struggling disk. */
const commitSecondsBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

const turnsTotalKey = counterKey(
  "hermes_turns_total",
  "Turns that ended, by platform and outcome (completed, failed, interrupted, duplicate)."
)
export const turnsTotal = Metric.fromMetricKey(turnsTotalKey)
const turnDurationSecondsKey = secondsHistogramKey(
  "hermes_turn_duration_seconds",
  "From a message handed to the gateway to the turn's outcome, by platform and outcome.",
  turnSecondsBounds
)
export const turnDurationSeconds = Metric.fromMetricKey(turnDurationSecondsKey)
export const activeTurns = gauge("hermes_active_turns", "Turns running now.")
const messagesRefusedTotalKey = counterKey(
  "hermes_messages_refused_total",
  "Messages refused without a turn, by platform and reason (starting, draining, suspended, storage, busy)."
)
export const messagesRefusedTotal = Metric.fromMetricKey(messagesRefusedTotalKey)
const turnsTotalSeries = labelled(turnsTotalKey)
const turnDurationSeries = labelled(turnDurationSecondsKey)
const refusedSeries = labelled(messagesRefusedTotalKey)
export const adapterState = gauge(
  "hermes_adapter_state",
  "1 for each platform's current state (as in gateway_state.json), 0 for states it has left."
)
export const sessionDbCommitSeconds = secondsHistogram(
  "hermes_session_db_commit_seconds",
  "Session database operations, each one transaction up to its commit (synchronous=FULL).",
  commitSecondsBounds
)
export const processStartTimeSeconds = gauge(
  "hermes_process_start_time_seconds",
  "When this gateway process started, in seconds since the epoch."
)

export type RefusalReason = "starting" | "draining" | "suspended" | "storage" | "busy"

export const recordRefusal = (platform: string, reason: RefusalReason): Effect.Effect<void> =>
  Metric.increment(refusedSeries([["platform", platform], ["reason", reason]]))

/** Seconds since `startedNanos` (from Clock.currentTimeNanos). */
export const secondsSince = (startedNanos: bigint): Effect.Effect<number> =>
  Effect.map(Clock.currentTimeNanos, (now) => Number(now - startedNanos) / 1e9)

/** One outcome of a message handed to the gateway: a turn that ended, or a refusal. */
export const recordOutcome = (platform: string, outcome: TurnOutcome, seconds: number): Effect.Effect<void> => {
  if (outcome._tag === "Refused") {
    return recordRefusal(platform, outcome.reason === "session_suspended" ? "suspended" : outcome.reason)
  }
  const labels = [["platform", platform], ["outcome", outcome._tag.toLowerCase()]] as const
  return Effect.zipRight(Metric.increment(turnsTotalSeries(labels)), Metric.update(turnDurationSeries(labels), seconds))
}

export const recordActiveTurns = (active: number): Effect.Effect<void> => Metric.set(activeTurns, active)

/** Times `effect` (a session database transaction) into hermes_session_db_commit_seconds, whatever its end. */
export const timedCommit = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeNanos, (started) =>
    effect.pipe(
      Effect.ensuring(Effect.flatMap(secondsSince(started), (seconds) => Metric.update(sessionDbCommitSeconds, seconds)))
    ))

/**
 * Sets the current state of each platform to 1 and every other state a platform was seen in to 0,
 * so a dashboard can select `hermes_adapter_state == 1`. The earlier states are read back from the
 * registry rather than remembered here.
 */
export const recordPlatformStates = (
  platforms: Readonly<Record<string, { readonly state: unknown }>>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const known = (yield* Metric.snapshot).filter((pair) => pair.metricKey.name === "hermes_adapter_state")
    for (const [platform, { state }] of Object.entries(platforms)) {
      const current = String(state)
      for (const pair of known) {
        const tags = pair.metricKey.tags
        const isPlatform = tags.some((tag) => tag.key === "platform" && tag.value === platform)
        const left = tags.find((tag) => tag.key === "state" && tag.value !== current)
        if (isPlatform && left !== undefined && MetricState.isGaugeState(pair.metricState) && pair.metricState.value !== 0) {
          yield* Metric.set(Metric.tagged(Metric.tagged(adapterState, "platform", platform), "state", left.value), 0)
        }
      }
      yield* Metric.set(Metric.tagged(Metric.tagged(adapterState, "platform", platform), "state", current), 1)
    }
  })

/** The body of GET /metrics; each scrape also closes the event-loop delay window (EventLoopDelay.ts). */
export const prometheusExposition: Effect.Effect<string> = Effect.zipRight(
  recordEventLoopDelay,
  Effect.map(Metric.snapshot, (pairs) => renderPrometheus(pairs))
)
