// The anchors' event-loop delay, read as the gateway reads its own (src/metrics/EventLoopDelay.ts):
// a monitorEventLoopDelay histogram, read and reset by each GET /metrics, under the same series
// name, so the benchmark scrapes all targets alike.
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks"
import { eventLoopProbeResolutionMs, summarizeEventLoopDelay } from "../../src/metrics/EventLoopDelaySummary.js"

export const startEventLoopDelayProbe = (): IntervalHistogram => {
  const histogram = monitorEventLoopDelay({ resolution: eventLoopProbeResolutionMs })
  histogram.enable()
  return histogram
}

export const eventLoopDelayExposition = (histogram: IntervalHistogram): string => {
  const delay = summarizeEventLoopDelay(histogram)
  histogram.reset()
  return `hermes_event_loop_delay_p99_seconds ${delay?.p99Seconds ?? 0}\n`
}
