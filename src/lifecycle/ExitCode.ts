// The one table that maps how a process ends to its exit code (CONTRACT 3.1), and the one constructor
// for errors that end the process: every such error is built by `ExitingError`, which brands it and
// fixes (or takes) its code. The runner, the kernel's final step and the shutdown report read here.
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Types from "effect/Types"

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

/** What a gateway's exit code tells an operator reading its history (`hermes gateway report`). */
const gatewayExitMeaning: Readonly<Record<number, string>> = {
  [ExitCode.PlannedStop]: "planned stop, not restarted",
  [ExitCode.UnplannedStop]: "unplanned stop, a supervisor restarts it",
  [ExitCode.Unavailable]: "could not start, restarted after a delay",
  [ExitCode.Software]: "internal error or teardown overran its hard deadline, restarted",
  [ExitCode.Restart]: "restart requested, restarted at once",
  [ExitCode.Config]: "invalid configuration or environment, never restarted"
}

export const describeExitCode = (code: number): string =>
  `exit ${code}${gatewayExitMeaning[code] !== undefined ? ` (${gatewayExitMeaning[code]})` : ""}`

// ---------------------------------------------------------------------------------------------
// Errors that end the process

export const ExitingTypeId: unique symbol = Symbol.for("hermes/Exiting")
export type ExitingTypeId = typeof ExitingTypeId

/** Any error that may end the process says which code it ends it with, and why in one line. */
export interface Exiting {
  readonly [ExitingTypeId]: ExitingTypeId
  readonly exitCode: number
  readonly message: string
  /** Already told to the operator (e.g. printed by the command): the runner adds nothing. */
  readonly reported?: boolean
}

export const isExiting = (u: unknown): u is Exiting => Predicate.hasProperty(u, ExitingTypeId)

type Fields<A> = Types.VoidIfEmpty<{ readonly [P in keyof A as P extends "_tag" ? never : P]: A[P] }>

type ExitingInstance<Tag extends string, A> = Cause.YieldableError & Exiting & { readonly _tag: Tag } & Readonly<A>

/**
 * The constructor of every error that can end the process (a `Data.TaggedError` branded as Exiting).
 * `ExitingError(tag, code)` fixes the code for the class; `ExitingError(tag)` takes it from the
 * fields of each instance, for errors whose code depends on what happened (69 or 78, status 1 or 3).
 */
export function ExitingError<Tag extends string, Code extends ExitCode>(
  tag: Tag,
  exitCode: Code
): new<A extends { readonly message: string }>(args: Fields<A>) => ExitingInstance<Tag, A> & { readonly exitCode: Code }
export function ExitingError<Tag extends string>(
  tag: Tag
): new<A extends { readonly message: string; readonly exitCode: number }>(args: Fields<A>) => ExitingInstance<Tag, A>
export function ExitingError(tag: string, exitCode?: ExitCode) {
  const Base = Data.TaggedError(tag)<{ readonly message: string }>
  class Exits extends Base {
    readonly [ExitingTypeId]: ExitingTypeId = ExitingTypeId
    constructor(args: { readonly message: string }) {
      super(args)
      if (exitCode !== undefined) (this as { exitCode?: number }).exitCode = exitCode
    }
  }
  return Exits
}

/** A successor's exit code is passed through verbatim (it may be 128 + a signal); it told its own story. */
export class PassThroughExit extends ExitingError("PassThroughExit")<{
  readonly exitCode: number
  readonly message: string
  readonly reported: true
}> {
  constructor(exitCode: number, message: string) {
    super({ exitCode, message, reported: true })
  }
}

/**
 * The code a failure ends the process with. A failure that carries no code is a bug in this project,
 * as is a defect: both exit 70. The kernel's final step and the runner both decide through this.
 */
export const exitCodeOfFailure = (failure: unknown): number => (isExiting(failure) ? failure.exitCode : ExitCode.Software)

/**
 * The verdict for a finished program. Success is a planned stop; a typed failure selects its own
 * code; anything else is 70. An interruption without a failure means the runner interrupted a
 * command that does not handle signals itself (e.g. Ctrl+C during `stop`): conventional 128 + SIGINT.
 */
export const exitCodeOf = <E, A>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.PlannedStop
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) return exitCodeOfFailure(failure.value)
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  return ExitCode.Software
}
