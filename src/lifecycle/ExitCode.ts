// The one table that maps how a process ends to its exit code (CONTRACT 3.1).
// Every typed error that can end the process carries one of these codes; nothing else picks a number.
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

export const ExitCode = {
  /** planned stop: not restarted */
  PlannedStop: 0,
  /** unplanned stop: a signal nobody announced; supervisors restart. Also a CLI command that failed. */
  UnplannedStop: 1,
  CommandFailed: 1,
  /** CLI usage error (EX_USAGE) */
  Usage: 64,
  /** could not start: home held, address in use, no adapter connected (EX_UNAVAILABLE) */
  Unavailable: 69,
  /** internal defect, or teardown overran its hard deadline (EX_SOFTWARE) */
  Software: 70,
  /** restart requested (EX_TEMPFAIL): supervisors restart at once */
  Restart: 75,
  /** invalid configuration or environment (EX_CONFIG): never restarted */
  Config: 78
} as const

/** What `hermes gateway status` exits with (LSB convention). */
export const StatusExitCode = {
  Running: 0,
  DeadButRecorded: 1,
  NotRunning: 3
} as const

export type ExitCode =
  | (typeof ExitCode)[keyof typeof ExitCode]
  | (typeof StatusExitCode)[keyof typeof StatusExitCode]

const knownCodes: ReadonlySet<number> = new Set([...Object.values(ExitCode), ...Object.values(StatusExitCode)])

/** Any error that may end the process says which code it ends it with. */
export interface Exiting {
  readonly exitCode: ExitCode
}

export const isExiting = (u: unknown): u is Exiting =>
  typeof u === "object" && u !== null && "exitCode" in u && knownCodes.has((u as { exitCode: number }).exitCode)

/** A successor's exit code is passed through verbatim (it may be 128 + a signal). */
export class PassThroughExit {
  readonly _tag = "PassThroughExit"
  constructor(readonly exitCode: number, readonly message: string) {}
}

/**
 * The verdict for a finished program. Success is a planned stop; a typed failure selects its own
 * code; a failure that carries no code is a bug in this project, as is a defect: both exit 70.
 * An interruption without a failure means the runner interrupted a command that does not handle
 * signals itself (e.g. Ctrl+C during `stop`): conventional 128 + SIGINT.
 */
export const exitCodeOf = <E, A>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.PlannedStop
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    if (failure.value instanceof PassThroughExit) return failure.value.exitCode
    return isExiting(failure.value) ? failure.value.exitCode : ExitCode.Software
  }
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  return ExitCode.Software
}
