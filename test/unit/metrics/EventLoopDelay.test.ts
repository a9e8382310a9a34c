// The event-loop delay gauges: the pure reading of a monitorEventLoopDelay histogram, and the
// gauges a scrape publishes (Effect's metric registry is process-global; these names are ours alone).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { startEventLoopDelayProbe } from "../../../src/metrics/EventLoopDelay.js"
import { summarizeEventLoopDelay, type DelayHistogram } from "../../../src/metrics/EventLoopDelaySummary.js"
import { prometheusExposition } from "../../../src/metrics/GatewayMetrics.js"

const ms = (n: number) => n * 1e6
const histogram = (percentiles: Record<number, number>, max: number, count = 100): DelayHistogram => ({
  count,
  max,
  percentile: (p) => percentiles[p]!
})

const sampleValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("summarizeEventLoopDelay", () => {
  it("takes the probe's own period off every value, in seconds", () => {
    expect(summarizeEventLoopDelay(histogram({ 50: ms(10.5), 99: ms(22) }, ms(85)), 10)).toEqual({
      p50Seconds: 0.0005,
      p99Seconds: 0.012,
      maxSeconds: 0.075
    })
  })

  it("reads a timer that fired early as no delay", () => {
    expect(summarizeEventLoopDelay(histogram({ 50: ms(9.9), 99: ms(9.95) }, ms(9.99)), 10)).toEqual({
      p50Seconds: 0,
      p99Seconds: 0,
      maxSeconds: 0
    })
  })

  it("says nothing about a window without samples", () => {
    expect(summarizeEventLoopDelay(histogram({}, 0, 0))).toBeUndefined()
  })
})

describe("hermes_event_loop_delay_* gauges", () => {
  it.live("appear in the exposition once the probe has seen the loop, as non-negative seconds", () =>
    Effect.gen(function*() {
      yield* startEventLoopDelayProbe
      // Wait on the fact (the probe's timer has run a few times), not on a fixed time.
      let text = ""
      for (let attempt = 0; attempt < 500 && sampleValue(text, "hermes_event_loop_delay_max_seconds") === undefined; attempt++) {
        yield* Effect.sleep("20 millis")
        text = yield* prometheusExposition
      }
      expect(text).toContain("# TYPE hermes_event_loop_delay_p99_seconds gauge")
      const p50 = sampleValue(text, "hermes_event_loop_delay_p50_seconds")!
      const p99 = sampleValue(text, "hermes_event_loop_delay_p99_seconds")!
      const max = sampleValue(text, "hermes_event_loop_delay_max_seconds")!
      expect(p50).toBeGreaterThanOrEqual(0)
      expect(p99).toBeGreaterThanOrEqual(p50)
      expect(max).toBeGreaterThanOrEqual(p99)
    }))
})
