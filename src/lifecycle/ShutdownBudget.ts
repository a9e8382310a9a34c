// How long each bounded step of a shutdown may take (CONTRACT 3.3), and the hard deadline they add
// up to. Pure: the kernel, the watchdog, `stop --timeout` defaults and unit renderers share it.
import * as Duration from "effect/Duration"

export interface ShutdownBudget {
  readonly drain: Duration.Duration
  readonly adapterConnect: Duration.Duration
  readonly adapterDisconnect: Duration.Duration
  readonly dbClose: Duration.Duration
  readonly markerTtl: Duration.Duration
}

/** Slack for the unbounded-by-config steps (marker, intake, notify, interrupt, final state). */
export const teardownSlack = Duration.seconds(5)

/** Bounds of the short steps; together they fit in teardownSlack. */
export const stepBounds = {
  stopIntake: Duration.seconds(1),
  notifyChats: Duration.seconds(1),
  interruptTurns: Duration.seconds(2)
} as const

/** drain + disconnect + db close + 5 s: past this a watchdog records and exits 70. */
export const hardDeadline = (budget: ShutdownBudget): Duration.Duration =>
  Duration.sum(Duration.sum(Duration.sum(budget.drain, budget.adapterDisconnect), budget.dbClose), teardownSlack)

/** Supervisors must wait at least this long before SIGKILL (generated definitions, doctor). */
export const minimumKillTimeout = (budget: ShutdownBudget): Duration.Duration =>
  Duration.sum(hardDeadline(budget), Duration.seconds(5))

/**
 * The one rule for a supervisor's kill timeout, shared by the start-up warning and doctor: it must
 * wait at least hard deadline + 5 s (what install writes). Exactly that is enough; shorter is not.
 */
export const killTimeoutTooShort = (budget: ShutdownBudget, killTimeout: Duration.Duration): boolean =>
  Duration.lessThan(killTimeout, minimumKillTimeout(budget))
