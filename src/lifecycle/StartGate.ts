// Where the respawn-storm breaker meets a gateway's start-up: the start is recorded once the home
// lock is held (so two starts racing for one home never both wait), and the wait it earns is served
// inside the stoppable part of start-up, so a stop during the wait ends it at once.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { formatDuration } from "../config/Duration.js"
import { StartHistory } from "../home/StartHistory.js"
import { extendTimeout, SystemdNotify } from "../supervision/SystemdNotify.js"
import { type RespawnPolicy, respawnVerdict, type StartVerdict } from "./RespawnStorm.js"

/** Records this start in the home's history (when one is provided) and decides whether it waits. */
export const recordStart = (policy: RespawnPolicy | undefined): Effect.Effect<StartVerdict> =>
  Effect.gen(function*() {
    const history = yield* Effect.serviceOption(StartHistory)
    if (policy === undefined || Option.isNone(history)) return { _tag: "Go", recent: 0 } as const
    const now = yield* Clock.currentTimeMillis
    const previous = yield* history.value.record(now, policy.window)
    return respawnVerdict(previous, now, policy)
  })

export const waitOf = (verdict: StartVerdict): Duration.Duration =>
  verdict._tag === "Wait" ? verdict.wait : Duration.zero

/**
 * Serves the wait, if any; interruptible, so a stop request ends it. Under systemd the start
 * timeout is extended by the wait plus `startupTimeout`, so systemd does not kill a start that is
 * waiting on purpose.
 */
export const serveBackoff = (
  verdict: StartVerdict,
  policy: RespawnPolicy | undefined,
  startupTimeout: Duration.Duration
): Effect.Effect<void, never, SystemdNotify> =>
  verdict._tag === "Go" || policy === undefined
    ? Effect.void
    : Effect.gen(function*() {
      const systemd = yield* SystemdNotify
      yield* systemd.notify([
        `STATUS=respawn storm: waiting ${formatDuration(verdict.wait)} before starting`,
        extendTimeout(Duration.toMillis(Duration.sum(verdict.wait, startupTimeout)))
      ])
      yield* Effect.logWarning(
        `respawn storm: ${verdict.recent} starts within ${formatDuration(policy.window)} ` +
          `(more than gateway.respawn_storm.max_starts=${policy.maxStarts}); waiting ${formatDuration(verdict.wait)} ` +
          `before starting (a stop ends the wait at once)`
      )
      yield* Effect.sleep(verdict.wait)
      yield* Effect.log("respawn backoff over; starting")
    })

/**
 * The start-up deadline for the watchdog: gateway.startup_timeout plus the respawn wait, which is
 * deliberate and not a hang. None when the timeout is off (0) or not configured.
 */
export const startupDeadline = (
  timeout: Duration.Duration | undefined,
  verdict: StartVerdict
): Option.Option<Duration.Duration> =>
  timeout === undefined || Duration.toMillis(timeout) <= 0
    ? Option.none()
    : Option.some(Duration.sum(timeout, waitOf(verdict)))
