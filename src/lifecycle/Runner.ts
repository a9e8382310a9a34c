// Our runMain (built on @effect/platform's makeRunMain). Stock runMain exits 0 on SIGTERM, hides
// which signal arrived and dies silently on a second one; here signals are data for programs that
// claim them, every outcome goes through the exit-code table, and the process always exits.
import { makeRunMain } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { constants } from "node:os"
import { exitCodeOf, isExiting, PassThroughExit } from "./ExitCode.js"
import { installSignalHub, type ProcessSignal } from "./Signals.js"

/** How a failure is told to the operator: typed errors by their message, defects in full. */
const report = (exit: Exit.Exit<unknown, unknown>): void => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return
  const failure = Cause.failureOption(exit.cause)
  // A successor's exit code is passed on; it has told its own story on stderr.
  if (Option.isSome(failure) && failure.value instanceof PassThroughExit) return
  if (Option.isSome(failure) && isExiting(failure.value)) {
    const error = failure.value as { message?: unknown; reported?: boolean }
    if (error.reported !== true && typeof error.message === "string" && error.message !== "") {
      process.stderr.write(`hermes: ${error.message}\n`)
    }
    return
  }
  process.stderr.write(`hermes: internal error (exit 70)\n${Cause.pretty(exit.cause)}\n`)
}

/** The signal that interrupted an unclaiming command, if any: its exit code is 128 + signo. */
let interruptedBy: ProcessSignal | undefined

export const runMain = makeRunMain(({ fiber, teardown }) => {
  const hub = installSignalHub()
  // Commands that do not claim signals (stop, status, and `run` before it has taken them over)
  // are interrupted by the first one; a second one ends the process at once.
  hub.setFallback((signal) => {
    if (signal === "SIGUSR1" || signal === "SIGUSR2") return
    if (interruptedBy !== undefined) process.exit(128 + constants.signals[signal])
    interruptedBy = signal
    process.stderr.write(`hermes: interrupted by ${signal}\n`)
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

export const exitTeardown = (exit: Exit.Exit<unknown, unknown>, onExit: (code: number) => void): void =>
  onExit(
    interruptedBy !== undefined && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      ? 128 + constants.signals[interruptedBy]
      : exitCodeOf(exit)
  )
