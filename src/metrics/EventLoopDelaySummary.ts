// How late the event loop came back to a periodic timer: the pure reading of a
// perf_hooks.monitorEventLoopDelay histogram. No Effect and no gateway imports, so the benchmark's
// anchors (bench/anchors) read their loops exactly as the gateway reads its own.

/** The timer period the histogram samples at. It is part of every value it records. */
export const eventLoopProbeResolutionMs = 10

/** The part of perf_hooks' IntervalHistogram this reads (values in nanoseconds). */
export interface DelayHistogram {
  readonly count: number
  readonly max: number
  percentile(percentile: number): number
}

export interface EventLoopDelay {
  readonly p50Seconds: number
  readonly p99Seconds: number
  readonly maxSeconds: number
}

/**
 * Each recorded value is the time between two runs of the probe's timer, so the timer's own period
 * is taken off to leave the delay; a value under the period (timers may fire a little early) is no
 * delay. `undefined` when nothing was recorded (a window shorter than one period).
 */
export const summarizeEventLoopDelay = (
  histogram: DelayHistogram,
  resolutionMs: number = eventLoopProbeResolutionMs
): EventLoopDelay | undefined => {
  if (histogram.count === 0) return undefined
  const delaySeconds = (nanos: number) => Math.max(0, nanos / 1e6 - resolutionMs) / 1000
  return {
    p50Seconds: delaySeconds(histogram.percentile(50)),
    p99Seconds: delaySeconds(histogram.percentile(99)),
    maxSeconds: delaySeconds(histogram.max)
  }
}
