// Event-loop delay as Prometheus gauges: how late the main thread came back to a 10 ms timer
// (perf_hooks.monitorEventLoopDelay), p50, p99 and max over the window since the previous scrape
// (or since start-up for the first one). Each GET /metrics reads the window and starts a new one,
// as prom-client's nodejs_eventloop_lag_* do, so a stall between two scrapes is never averaged away.
// One probe per process, like Effect's metric registry: the process is one gateway life. Its timer
// is unref'd by Node, so it never keeps the process alive.
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks"
import { eventLoopProbeResolutionMs, summarizeEventLoopDelay } from "./EventLoopDelaySummary.js"

export const eventLoopDelayP50Seconds = Metric.gauge("hermes_event_loop_delay_p50_seconds", {
  description: "Median event-loop delay since the previous scrape (a 10 ms timer's lateness)."
})
export const eventLoopDelayP99Seconds = Metric.gauge("hermes_event_loop_delay_p99_seconds", {
  description: "99th percentile event-loop delay since the previous scrape (a 10 ms timer's lateness)."
})
export const eventLoopDelayMaxSeconds = Metric.gauge("hermes_event_loop_delay_max_seconds", {
  description: "Longest event-loop delay since the previous scrape (a 10 ms timer's lateness)."
})

let probe: IntervalHistogram | undefined

/** Starts the probe once per process; later calls do nothing. */
export const startEventLoopDelayProbe: Effect.Effect<void> = Effect.sync(() => {
  if (probe !== undefined) return
  probe = monitorEventLoopDelay({ resolution: eventLoopProbeResolutionMs })
  probe.enable()
})

/**
 * Publishes the window since the last call and starts a new one. A window with no sample (two
 * scrapes within 10 ms) leaves the gauges as they were rather than claiming a delay of zero.
 */
export const recordEventLoopDelay: Effect.Effect<void> = Effect.suspend(() => {
  if (probe === undefined) return Effect.void
  const delay = summarizeEventLoopDelay(probe)
  probe.reset()
  if (delay === undefined) return Effect.void
  return Effect.all([
    Metric.set(eventLoopDelayP50Seconds, delay.p50Seconds),
    Metric.set(eventLoopDelayP99Seconds, delay.p99Seconds),
    Metric.set(eventLoopDelayMaxSeconds, delay.maxSeconds)
  ], { discard: true })
})
