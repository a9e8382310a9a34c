import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import { escapeHelp, escapeLabelValue, formatSampleValue, renderPrometheus } from "../../../src/metrics/PrometheusText.js"

const counterPair = (name: string, count: number, labels: ReadonlyArray<readonly [string, string]> = [], description?: string) =>
  MetricPair.unsafeMake(
    MetricKey.counter(name, { description }).pipe(
      MetricKey.taggedWithLabels(labels.map(([key, value]) => MetricLabel.make(key, value)))
    ),
    MetricState.counter(count)
  )

describe("Prometheus text renderer", () => {
  it("escapes HELP text and label values as the exposition format requires", () => {
    expect(escapeHelp("a \\ b\nc \"q\"")).toBe("a \\\\ b\\nc \"q\"")
    expect(escapeLabelValue("a \\ b\nc \"q\"")).toBe("a \\\\ b\\nc \\\"q\\\"")
    expect(formatSampleValue(Number.POSITIVE_INFINITY)).toBe("+Inf")
    expect(formatSampleValue(Number.NEGATIVE_INFINITY)).toBe("-Inf")
    expect(formatSampleValue(Number.NaN)).toBe("NaN")
    expect(formatSampleValue(0.25)).toBe("0.25")
    expect(formatSampleValue(12n)).toBe("12")
  })

  it("writes HELP and TYPE once per family, series sorted, labels sorted and escaped", () => {
    const text = renderPrometheus([
      counterPair("hermes_b_total", 2, [["platform", "tele\"gram"], ["outcome", "completed"]], "B things.\nSecond line"),
      counterPair("hermes_a_total", 1),
      counterPair("hermes_b_total", 5, [["platform", "http"], ["outcome", "completed"]], "B things.\nSecond line"),
      counterPair("other_total", 9)
    ])
    expect(text).toBe([
      "# TYPE hermes_a_total counter",
      "hermes_a_total 1",
      "# HELP hermes_b_total B things.\\nSecond line",
      "# TYPE hermes_b_total counter",
      "hermes_b_total{outcome=\"completed\",platform=\"http\"} 5",
      "hermes_b_total{outcome=\"completed\",platform=\"tele\\\"gram\"} 2",
      ""
    ].join("\n"))
  })

  it("renders gauges and leaves out metrics without the prefix", () => {
    const gauge = MetricPair.unsafeMake(MetricKey.gauge("hermes_g", { description: "G." }), MetricState.gauge(-1.5))
    expect(renderPrometheus([gauge, counterPair("x_total", 1)])).toBe("# HELP hermes_g G.\n# TYPE hermes_g gauge\nhermes_g -1.5\n")
    expect(renderPrometheus([])).toBe("")
  })

  it("renders a histogram as cumulative _bucket lines ending in +Inf, then _sum and _count", () => {
    const key = MetricKey.histogram("hermes_h_seconds", MetricBoundaries.fromIterable([0.1, 1]), "H.").pipe(
      MetricKey.tagged("platform", "http")
    )
    const state = MetricState.histogram({ buckets: [[0.1, 1], [1, 3], [Infinity, 4]], count: 4, min: 0.05, max: 7, sum: 8.5 })
    expect(renderPrometheus([MetricPair.unsafeMake(key, state)])).toBe([
      "# HELP hermes_h_seconds H.",
      "# TYPE hermes_h_seconds histogram",
      "hermes_h_seconds_bucket{platform=\"http\",le=\"0.1\"} 1",
      "hermes_h_seconds_bucket{platform=\"http\",le=\"1\"} 3",
      "hermes_h_seconds_bucket{platform=\"http\",le=\"+Inf\"} 4",
      "hermes_h_seconds_sum{platform=\"http\"} 8.5",
      "hermes_h_seconds_count{platform=\"http\"} 4",
      ""
    ].join("\n"))
  })

  it("adds the +Inf bucket when a histogram state lacks it", () => {
    const key = MetricKey.histogram("hermes_h2", MetricBoundaries.fromIterable([1]))
    const state = MetricState.histogram({ buckets: [[1, 2]], count: 3, min: 0, max: 5, sum: 6 })
    expect(renderPrometheus([MetricPair.unsafeMake(key, state)])).toContain("hermes_h2_bucket{le=\"+Inf\"} 3\n")
  })

  // The registry is global to the process: this test's metric has a name no other test uses.
  it.effect("renders Effect's own histogram state: buckets are cumulative counts of observations", () =>
    Effect.gen(function*() {
      const histogram = Metric.histogram("hermes_test_renderer_seconds", MetricBoundaries.fromIterable([1, 2, 4]))
      for (const value of [0.5, 1.5, 1.7, 3, 10]) yield* Metric.update(histogram, value)
      const text = renderPrometheus(yield* Metric.snapshot)
      expect(text).toContain([
        "# TYPE hermes_test_renderer_seconds histogram",
        "hermes_test_renderer_seconds_bucket{le=\"1\"} 1",
        "hermes_test_renderer_seconds_bucket{le=\"2\"} 3",
        "hermes_test_renderer_seconds_bucket{le=\"4\"} 4",
        "hermes_test_renderer_seconds_bucket{le=\"+Inf\"} 5",
        "hermes_test_renderer_seconds_sum 16.7",
        "hermes_test_renderer_seconds_count 5"
      ].join("\n"))
    }))
})
