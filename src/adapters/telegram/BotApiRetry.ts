// When to call the Bot API again after a failure, as one Schedule for the poller, the handshake
// and every send: exponential from `base`, capped, jittered so restarted bots do not retry in step,
// and Telegram's own `retry_after` (429) taking the place of the computed delay.
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import type { BotApiError } from "./BotApi.js"

export interface RetryPolicy {
  /** The first delay; each next one doubles, up to `cap`. */
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
}

/** Each delay is between these fractions of its step: half fixed, half random. */
export const jitterBounds = { min: 0.5, max: 1 } as const

/** The un-jittered delay before retry number `attempt` (0 for the first): base·2^attempt, at most cap. */
export const backoffStep = (policy: RetryPolicy, attempt: number): Duration.Duration =>
  Duration.min(Duration.times(Duration.decode(policy.base), 2 ** Math.min(attempt, 30)), Duration.decode(policy.cap))

/** What Telegram asked for wins over our own backoff: waiting less gets another 429. */
export const delayAfter = (error: BotApiError, backoff: Duration.Duration): Duration.Duration =>
  error._tag === "BotApiRateLimited" && error.retryAfter !== undefined ? error.retryAfter : backoff

/**
 * The retry schedule: its input and output are the error that failed the call, so a caller can
 * add `Schedule.modifyDelayEffect` to say what it is waiting for. `attempts` bounds the calls in
 * all (the first one included); without it the schedule never gives up.
 */
export const retrySchedule = (policy: RetryPolicy, attempts?: number): Schedule.Schedule<BotApiError, BotApiError> => {
  const backoff = Schedule.exponential(policy.base, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.decode(policy.cap))),
    Schedule.jitteredWith(jitterBounds)
  )
  const bounded = attempts === undefined ? backoff : Schedule.intersect(backoff, Schedule.recurs(Math.max(0, attempts - 1)))
  return Schedule.passthrough(bounded as Schedule.Schedule<unknown, BotApiError>).pipe(
    Schedule.modifyDelay((error, delay) => delayAfter(error, delay))
  )
}
