// Our runMain (built on @effect/platform's makeRunMain). Stock runMain exits 0 on SIGTERM, hides
// which signal arrived and dies silently on a second one; here signals are data for programs that
// claim them, every outcome goes through the exit-code table, and the process always exits.
import { makeRunMain } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { constants } from "node:os"
import { ExitCode, exitCodeOf, isExiting } from "./ExitCode.js"
import { installSignalHub, type ProcessSignal, type SignalHub } from "./SignalHub.js"

/** How a failure is told to the operator: typed errors by their message, defects in full. */
const report = (exit: Exit.Exit<unknown, unknown>): void => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return
  const failure = Cause.failureOption(exit.cause)
  // An error already told (a successor's exit code passed on, status printed) adds nothing.
  if (Option.isSome(failure) && isExiting(failure.value)) {
    const error = failure.value
    if (error.reported !== true && error.message !== "") process.stderr.write(`hermes: ${error.message}\n`)
    return
  }
  process.stderr.write(`hermes: internal error (exit 70)\n${Cause.pretty(exit.cause)}\n`)
}

/** The signal that interrupted an unclaiming command, if any: its exit code is 128 + signo. */
let interruptedBy: ProcessSignal | undefined
/** A gateway forced out by a second signal before it could claim them: the code its first one means. */
let forcedBeforeClaim: number | undefined

export const runMain = makeRunMain(({ fiber, teardown }) => {
  const hub = installSignalHub()
  // Commands that do not claim signals (stop, status) are interrupted by the first one; a second
  // one ends the process at once. A gateway process never gets here (SignalHub holds its signals).
  hub.setFallback((signal) => {
    if (signal === "SIGUSR1" || signal === "SIGUSR2") return
    if (interruptedBy !== undefined) process.exit(128 + constants.signals[signal])
    interruptedBy = signal
    process.stderr.write(`hermes: interrupted by ${signal}\n`)
    fiber.unsafeInterruptAsFork(fiber.id())
  })
  // A gateway still parsing, loading or starting holds the first signal for its own classification;
  // a second one forces start-up to be abandoned (CONTRACT 3.2), with the exit code of the first.
  hub.onHeld((_signal, held) => {
    if (hub.everClaimed() || forcedBeforeClaim !== undefined) return
    const stops = held.filter(isStopSignal)
    if (stops.length < 2) return
    forcedBeforeClaim = unclaimedExitCode(stops[0]!)
    fiber.unsafeInterruptAsFork(fiber.id())
  })
  // A fiber waiting on a signal or a deferred holds no libuv handle: without this timer Node would
  // consider the process idle and exit 0 in the middle of the program.
  const keepAlive = setInterval(() => {}, 2 ** 30)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    report(exit)
    teardown(exit, (code) => process.exit(code))
  })
})

const isStopSignal = (signal: ProcessSignal): boolean => signal === "SIGTERM" || signal === "SIGINT" || signal === "SIGHUP"

/** What a stop signal means to a gateway that never read its marker: Ctrl+C is planned, the rest not. */
const unclaimedExitCode = (signal: ProcessSignal): number =>
  signal === "SIGINT" ? ExitCode.PlannedStop : ExitCode.UnplannedStop

/**
 * The process's exit code. Only a command that never claimed signals may end with 128 + signo; a
 * gateway's code follows its first classification, and a gateway that ended before it could
 * classify an unannounced signal it held did not stop as planned (never 0).
 */
export const finalExitCode = (exit: Exit.Exit<unknown, unknown>, hub: SignalHub = installSignalHub()): number => {
  const interruptedOnly = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
  if (forcedBeforeClaim !== undefined && interruptedOnly) return forcedBeforeClaim
  if (interruptedBy !== undefined && interruptedOnly && !hub.everClaimed()) return 128 + constants.signals[interruptedBy]
  const code = exitCodeOf(exit)
  if (code === ExitCode.PlannedStop && !hub.everClaimed()) {
    const firstStop = hub.held().find(isStopSignal)
    if (firstStop !== undefined) return unclaimedExitCode(firstStop)
  }
  return code
}

export const exitTeardown = (exit: Exit.Exit<unknown, unknown>, onExit: (code: number) => void): void =>
  onExit(finalExitCode(exit))
