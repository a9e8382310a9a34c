// The respawn-storm breaker's decision: given when earlier lives started, may this start go ahead
// now, or must it wait first? A crash-looping gateway under a supervisor with no limits of its own
// (or generous ones) would otherwise hammer its platforms and its disk; the wait spaces such starts
// out while leaving an occasional restart untouched.
import * as Duration from "effect/Duration"

export interface RespawnPolicy {
  /** More than this many starts within `window` make the next start wait. */
  readonly maxStarts: number
  /** How far back starts count; zero turns the breaker off. */
  readonly window: Duration.Duration
}

/** The longest a start ever waits, however long the storm. */
export const backoffCap: Duration.Duration = Duration.seconds(300)

/** How many start times the history keeps: enough to reach the cap for any allowed max_starts. */
export const historyLimit = 128

export type StartVerdict =
  | { readonly _tag: "Go"; readonly recent: number }
  | { readonly _tag: "Wait"; readonly recent: number; readonly wait: Duration.Duration }

/**
 * Whether a start recorded at `startedAt` still counts at `now`. One recorded in the future (the
 * clock stepped back) counts only while it is within one window of now, so a wild value cannot
 * keep the breaker closed for ever.
 */
export const countsAt = (startedAt: number, now: number, window: Duration.Duration): boolean => {
  const windowMs = Duration.toMillis(window)
  return Number.isFinite(startedAt) && startedAt > now - windowMs && startedAt < now + windowMs
}

/**
 * `previousStarts`: start times (epoch ms) of earlier lives, this one excluded. With more than
 * maxStarts of them inside the window, the wait is window / maxStarts (the pace the policy allows
 * on average), doubled for every further start, and never more than `backoffCap`.
 */
export const respawnVerdict = (
  previousStarts: ReadonlyArray<number>,
  now: number,
  policy: RespawnPolicy
): StartVerdict => {
  const windowMs = Duration.toMillis(policy.window)
  if (windowMs <= 0 || !Number.isFinite(windowMs) || policy.maxStarts < 1) return { _tag: "Go", recent: 0 }
  const recent = previousStarts.filter((t) => countsAt(t, now, policy.window)).length
  if (recent <= policy.maxStarts) return { _tag: "Go", recent }
  const extra = recent - policy.maxStarts
  const base = windowMs / policy.maxStarts
  const capMs = Duration.toMillis(backoffCap)
  const waitMs = Math.min(capMs, base * 2 ** (extra - 1))
  return { _tag: "Wait", recent, wait: Duration.millis(Math.max(0, Math.ceil(waitMs))) }
}

/** The history to keep after a start at `now`: the starts that still count, newest last, bounded. */
export const nextHistory = (
  previousStarts: ReadonlyArray<number>,
  now: number,
  window: Duration.Duration
): ReadonlyArray<number> =>
  [...previousStarts.filter((t) => countsAt(t, now, window)), now]
    .sort((a, b) => a - b)
    .slice(-historyLimit)
