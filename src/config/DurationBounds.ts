// How long a configured duration may be. Node runs a timer of 2^31 - 1 ms (about 24.8 days) or more
// after 1 ms, so a value past that would make a deadline fire at once; every duration key therefore
// has an upper bound of its own, far below it, and a lower bound where 0 would break the gateway.
import * as Duration from "effect/Duration"
import { formatDuration } from "./Duration.js"

/** Node's (and the watchdog worker's) largest timer delay: setTimeout fires at once past it. */
export const timerLimit: Duration.Duration = Duration.millis(2 ** 31 - 1)

export interface DurationBounds {
  /** The smallest value; 0 allowed when it is 0. */
  readonly min: Duration.Duration
  readonly max: Duration.Duration
  /** 0 is allowed as a switch (e.g. "off") even though `min` is larger. */
  readonly zero?: string
  /** false: only ever compared with ages, never given to a timer, so it may pass the timer limit. */
  readonly timer?: false
}

const s = Duration.seconds
const minutes = Duration.minutes

/**
 * The bound of every duration key of config.yaml (README, "Configuration"). The shutdown steps stay
 * small enough that their sum, the hard deadline, is a little over an hour at most; resume_window is
 * compared with message ages and never given to a timer, so it may be longer.
 */
export const durationBounds = {
  // 0: interrupt in-flight turns at once. An hour covers the slowest agent turn worth waiting for.
  "gateway.drain_timeout": { min: Duration.zero, max: Duration.hours(1) },
  // 0 would fail every connect before it started.
  "gateway.adapter_connect_timeout": { min: s(1), max: minutes(10) },
  "gateway.adapter_disconnect_timeout": { min: Duration.zero, max: minutes(5) },
  "gateway.db_close_timeout": { min: Duration.zero, max: minutes(5) },
  // 0 would expire every marker on arrival: every `gateway stop` would look unplanned (exit 1).
  "gateway.marker_ttl": { min: s(1), max: Duration.hours(1) },
  // Below 1s a long garbage collection or a slow synchronous start-up step would count as a stall.
  "gateway.loop_stall_timeout": { min: s(1), max: Duration.hours(1), zero: "off" },
  // Start-up (lock to ready) may wait for a slow adapter or a respawn backoff; 0 turns it off.
  "gateway.startup_timeout": { min: s(1), max: Duration.hours(24), zero: "off" },
  // Only compared with the ages of recorded starts; 0 turns the respawn-storm breaker off.
  "gateway.respawn_storm.window": { min: Duration.zero, max: Duration.days(1), zero: "off" },
  "gateway.resume_window": { min: Duration.zero, max: Duration.days(30), zero: "never", timer: false },
  // Headers and body must arrive within it. Below a second a slow but honest client on a loaded
  // link could not deliver its request; beyond 10 minutes a stalled upload holds its slot too long.
  // Compared with session ages once a day, never a timer. Below a day a slip of the unit (1h for
  // 1d) would remove conversations still in use; ten years is longer than anyone keeps a log.
  "sessions.retention": { min: Duration.days(1), max: Duration.days(3650), zero: "off", timer: false },
  // Each journal write is a handful of short statements: a second is plenty on a sound server, and
  // 0 would mean "no limit" to PostgreSQL, letting a stuck lock hold a turn (and a shutdown) for ever.
  "sessions.postgres.statement_timeout": { min: s(1), max: minutes(10) },
  // A replica's turns are recovered by another this long after its last renewal: below a second a
  // garbage collection pause would look like death; beyond 10 minutes a dead replica's chats wait too long.
  "sessions.postgres.lease": { min: s(1), max: minutes(10) },
  // At most half the lease (checked with it: src/replicas/ReplicaSettings.ts), so one late renewal is no loss.
  "sessions.postgres.lease_renew_every": { min: Duration.millis(100), max: minutes(5) },
  "adapters.http.request_timeout": { min: s(1), max: minutes(10) },
  // Telegram's long poll takes whole seconds up to 50; 0 would be busy polling.
  "adapters.telegram.poll_timeout": { min: s(1), max: s(50) },
  "agent.echo.delay": { min: Duration.zero, max: Duration.hours(1) },
  // 0 would fail every request.
  "agent.openai.timeout": { min: s(1), max: Duration.hours(1) }
} as const satisfies Record<string, DurationBounds>

/** `stop --timeout` / `restart --timeout`: how long the CLI waits for the gateway to exit. */
export const stopWaitBounds: DurationBounds = { min: Duration.zero, max: Duration.hours(24) }

/** A bound as people write it: whole days as days (`30d`, not formatDuration's `4w 2d`). */
const spell = (duration: Duration.Duration): string => {
  const millis = Duration.toMillis(duration)
  const day = 24 * 3600 * 1000
  return millis >= day && millis % day === 0 ? `${millis / day}d` : formatDuration(duration)
}

/** Pure: why `duration` is outside `bounds`, or undefined when it is inside. */
export const boundsProblem = (duration: Duration.Duration, bounds: DurationBounds): string | undefined => {
  if (!Duration.isFinite(duration)) return "infinity is not allowed here: give a finite duration such as 20s"
  if (bounds.zero !== undefined && Duration.toMillis(duration) === 0) return undefined
  if (Duration.lessThan(duration, bounds.min) || Duration.greaterThan(duration, bounds.max)) {
    return `${describeBounds(bounds)}, got ${spell(duration)}`
  }
  return undefined
}

/** `must be at most 1h`, `must be between 1s and 1h`, or `must be 0 (off) or between 1s and 1h`. */
export const describeBounds = (bounds: DurationBounds): string => {
  const range = Duration.toMillis(bounds.min) === 0
    ? `at most ${spell(bounds.max)}`
    : `between ${spell(bounds.min)} and ${spell(bounds.max)}`
  return bounds.zero !== undefined ? `must be 0 (${bounds.zero}) or ${range}` : `must be ${range}`
}
