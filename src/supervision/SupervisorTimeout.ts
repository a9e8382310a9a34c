// Budget awareness (CONTRACT 3.3): how long the live supervisor waits before SIGKILL, read where
// it can be read, and the warning when that is shorter than hard deadline + 5 s (killTimeoutTooShort).
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import { formatDuration, parseTimeoutStopUSec } from "../config/Duration.js"
import { hardDeadline, killTimeoutTooShort, minimumKillTimeout, type ShutdownBudget } from "../lifecycle/ShutdownBudget.js"
import { commandOutput } from "./CommandOutput.js"
import type { DetectedSupervisor } from "./Detection.js"
import { readStopWait } from "./SupervisordRpc.js"

export interface SupervisorTimeout {
  readonly timeout: Duration.Duration
  /** Where the number came from, for the warning (e.g. "systemd TimeoutStopUSec"). */
  readonly source: string
}

/**
 * Pure: the warning, naming the supervisor's number and ours, when the supervisor could SIGKILL a
 * shutdown that stays within its budget (the rule: killTimeoutTooShort).
 */
export const budgetWarning = (supervisor: SupervisorTimeout, budget: ShutdownBudget): Option.Option<string> =>
  killTimeoutTooShort(budget, supervisor.timeout)
    ? Option.some(
      `${supervisor.source} is ${formatDuration(supervisor.timeout)}, shorter than the ` +
        `${formatDuration(minimumKillTimeout(budget))} the shutdown budget needs (hard deadline ` +
        `${formatDuration(hardDeadline(budget))} + 5s): a shutdown that uses its whole budget would be SIGKILLed. ` +
        `Set it to at least ${formatDuration(minimumKillTimeout(budget))} (hermes gateway install writes definitions that do).`
    )
    : Option.none()

/** Reads the live supervisor's stop timeout; None where it cannot be known (never fails). */
export const readSupervisorTimeout = (
  supervisor: DetectedSupervisor | null
): Effect.Effect<Option.Option<SupervisorTimeout>, never, CommandExecutor> => {
  if (supervisor === null || supervisor.unit === null) return Effect.succeed(Option.none())
  const unit = supervisor.unit
  switch (supervisor.kind) {
    case "systemd": {
      const scope = supervisor.control?.scope === "user" ? ["--user"] : []
      return commandOutput("systemctl", [...scope, "show", "--property=TimeoutStopUSec", "--value", unit]).pipe(
        Effect.map(Option.flatMap((text) => Either.getRight(parseTimeoutStopUSec(text)))),
        Effect.map(Option.map((timeout) => ({ timeout, source: `systemd TimeoutStopUSec of ${unit}` })))
      )
    }
    case "s6":
      // timeout-kill holds milliseconds; without it s6 never kills (no warning needed).
      return Effect.sync(() => {
        try {
          const ms = Number(fs.readFileSync(path.join(unit, "timeout-kill"), "utf8").trim())
          return Number.isFinite(ms) && ms > 0
            ? Option.some({ timeout: Duration.millis(ms), source: `s6 timeout-kill of ${unit}` })
            : Option.none()
        } catch {
          return Option.none()
        }
      })
    case "supervisord": {
      const serverUrl = supervisor.control?.server_url
      if (serverUrl === undefined) return Effect.succeed(Option.none())
      return readStopWait(serverUrl, unit).pipe(
        Effect.map(Option.map((timeout) => ({ timeout, source: `supervisord stopwaitsecs of ${unit}` })))
      )
    }
    default:
      return Effect.succeed(Option.none())
  }
}
