// Restart without a supervisor (CONTRACT 3.4): once this gateway has shut down and released its
// home, it starts its successor in the same terminal with the same arguments and stays behind as
// a thin parent that forwards signals and returns the successor's exit code. The successor is
// told it is supervised by this parent, so its own restarts exit 75 and the parent starts the
// next one: the chain never grows deeper than one parent.
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import { constants } from "node:os"
import { ExitCode } from "./ExitCode.js"
import { installSignalHub } from "./Signals.js"

/** The HERMES_SUPERVISOR value a successor runs under. */
export const restartParentKind = "hermes-restart-parent"

const runOnce = (argv: ReadonlyArray<string>) =>
  Effect.async<number>((resume) => {
    const child = spawn(process.execPath, [...process.execArgv, ...argv], {
      stdio: "inherit",
      env: { ...process.env, HERMES_SUPERVISOR: restartParentKind }
    })
    // Ctrl+C reaches the successor from the terminal itself (same process group); everything
    // else sent to this parent (a plain kill, a stop hook) is passed on.
    const release = installSignalHub().claim((signal) => {
      if (signal !== "SIGINT") child.kill(signal)
    })
    child.on("exit", (code, signal) => {
      release()
      resume(Effect.succeed(code ?? 128 + (signal === null ? 0 : constants.signals[signal])))
    })
    child.on("error", (error) => {
      release()
      process.stderr.write(`hermes: cannot start the successor: ${error.message}\n`)
      resume(Effect.succeed(ExitCode.Software))
    })
  })

/** Runs successors until one ends other than with a restart; its code becomes ours. */
export const runSuccessors = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.log("restart requested and no supervisor: starting the successor in this terminal")
      const code = yield* runOnce(argv)
      if (code !== ExitCode.Restart) return code
    }
  })
