// sessions.retention inside the running gateway: once shortly after start-up, then once a day, the
// finished sessions whose last activity is older than the retention are pruned (the same prune as
// `hermes gateway sessions prune --older-than`). Off when the retention is 0 (the default).
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { formatDuration } from "../config/Duration.js"
import type { SessionDbService } from "../sessions/SessionDb.js"
import { pruneOlderThan } from "../sessions/SessionQueries.js"

/** Long enough for start-up's own work (carry-over, first messages) to go first. */
export const firstRetentionRun = Duration.seconds(10)
export const retentionEvery = Duration.days(1)

/**
 * One pass: skipped while the gateway drains (shutdown has begun), logged either way; a failure is
 * logged and left for the next pass, never ending the gateway.
 */
export const retentionPass = (db: SessionDbService, retention: Duration.Duration, draining: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    if (yield* draining) return yield* Effect.log("sessions.retention: skipped, the gateway is draining")
    const report = yield* pruneOlderThan(db, Duration.toMillis(retention))
    yield* Effect.log(
      `sessions.retention (${formatDuration(retention)}): removed ${report.sessions} session(s), ${report.turns} turn(s) ` +
        `and ${report.messages} message(s) last active before ${report.cutoff}`
    )
  }).pipe(
    Effect.catchAll((error) => Effect.logWarning(`sessions.retention: cannot prune (${error.message}); trying again in a day`))
  )

/** Runs for the life of its scope (the gateway forks it scoped); returns at once when retention is 0. */
export const runSessionRetention = (
  db: SessionDbService,
  retention: Duration.Duration | undefined,
  draining: Effect.Effect<boolean>
): Effect.Effect<void> =>
  retention === undefined || Duration.toMillis(retention) === 0
    ? Effect.void
    : Effect.zipRight(
      Effect.sleep(firstRetentionRun),
      Effect.repeat(retentionPass(db, retention, draining), Schedule.spaced(retentionEvery))
    ).pipe(Effect.asVoid)
