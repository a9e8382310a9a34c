// Metrics known once, at start-up: when the process started and how the last recorded shutdown
// went (its exit code, length and every phase), read from logs/lifecycle.jsonl as start-up sees it.
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { ShutdownRecord } from "../forensics/LifecycleRecord.js"
import { startEventLoopDelayProbe } from "./EventLoopDelay.js"
import { activeTurns, processStartTimeSeconds } from "./GatewayMetrics.js"

export const lastShutdownExitCode = Metric.gauge("hermes_last_shutdown_exit_code", {
  description: "Exit code of the newest shutdown recorded in logs/lifecycle.jsonl at start-up."
})

export const lastShutdownDurationSeconds = Metric.gauge("hermes_last_shutdown_duration_seconds", {
  description: "How long the newest recorded shutdown took, from its start to the exit."
})

export const lastShutdownTimestampSeconds = Metric.gauge("hermes_last_shutdown_timestamp_seconds", {
  description: "When the newest recorded shutdown ended, in seconds since the epoch."
})

export const lastShutdownPhaseSeconds = Metric.gauge("hermes_last_shutdown_phase_seconds", {
  description: "Each phase of the newest recorded shutdown, by phase and outcome (ok, timeout, failed, skipped)."
})

const decodeShutdown = Schema.decodeUnknownOption(ShutdownRecord)

/** The newest shutdown among lifecycle records (newest first, as the reader returns them). */
export const newestShutdown = (records: ReadonlyArray<unknown>): Option.Option<ShutdownRecord> => {
  for (const record of records) {
    if (typeof record !== "object" || record === null || (record as { event?: unknown }).event !== "shutdown") continue
    const decoded = decodeShutdown(record)
    if (Option.isSome(decoded)) return decoded
  }
  return Option.none()
}

/**
 * `processStartMillis` is the process's own start (performance.timeOrigin), not the gateway
 * life's: a supervisor's view of uptime is the process's.
 */
export const recordStartUp = (
  processStartMillis: number,
  recentLifecycle: ReadonlyArray<unknown>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Metric.set(processStartTimeSeconds, processStartMillis / 1000)
    // Present from the start, so "no turn running" reads 0 rather than absent.
    yield* Metric.set(activeTurns, 0)
    yield* startEventLoopDelayProbe
    const shutdown = newestShutdown(recentLifecycle)
    if (Option.isNone(shutdown)) return
    const record = shutdown.value
    yield* Metric.set(lastShutdownExitCode, record.exit_code)
    yield* Metric.set(lastShutdownDurationSeconds, record.took_ms / 1000)
    const endedAt = Date.parse(record.at)
    if (Number.isFinite(endedAt)) yield* Metric.set(lastShutdownTimestampSeconds, endedAt / 1000)
    for (const phase of record.phases) {
      yield* Metric.set(
        Metric.tagged(Metric.tagged(lastShutdownPhaseSeconds, "phase", phase.name), "outcome", phase.outcome),
        phase.took_ms / 1000
      )
    }
  })
