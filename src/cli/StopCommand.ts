// `hermes gateway stop`: announce a planned stop with the marker, then SIGTERM, then wait.
// `--mark-only --pid=PID` only writes the marker (for ExecStop=, preStop hooks, control scripts).
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { parseDuration } from "../config/Duration.js"
import { loadConfig } from "../config/LoadConfig.js"
import { defaultConfig } from "../config/GatewayConfig.js"
import { writeJsonAtomic } from "../home/AtomicFile.js"
import type { HomePaths } from "../home/HomePaths.js"
import type { StopAction } from "../home/PlannedStopFile.js"
import { isSameProcess, type ProcessIdentity, readStartTime } from "../home/ProcessIdentity.js"
import { ExitCode } from "../lifecycle/ExitCode.js"
import { minimumKillTimeout } from "../lifecycle/ShutdownBudget.js"
import { findGateway } from "./GatewayTarget.js"
import { homeOption, resolvePaths } from "./HomeOption.js"
import { budgetOf } from "./RunCommand.js"

export class StopFailed extends Data.TaggedError("StopFailed")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.CommandFailed
}

export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
}> {
  readonly exitCode = ExitCode.Usage
}

const say = (line: string) => Effect.sync(() => process.stdout.write(line + "\n"))

export const writePlannedStopMarker = (paths: HomePaths, target: ProcessIdentity, action: StopAction) =>
  writeJsonAtomic(paths.plannedStop, {
    target_pid: target.pid,
    target_start_time: target.startTime,
    action,
    stopper_pid: process.pid,
    written_at: new Date().toISOString()
  }).pipe(Effect.mapError((error) => new StopFailed({ message: error.message })))

/** Waits until the incarnation is gone; shows progress on a terminal, a line every 5 s otherwise. */
const waitForExit = (target: ProcessIdentity, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const started = Date.now()
    const limit = Duration.toMillis(timeout)
    const tty = process.stderr.isTTY === true
    let lastReport = 0
    while (isSameProcess(target)) {
      const elapsed = Date.now() - started
      if (elapsed >= limit) return false
      if (tty) {
        process.stderr.write(`\rwaiting for the gateway (pid ${target.pid}) to stop… ${(elapsed / 1000).toFixed(0)}s`)
      } else if (elapsed - lastReport >= 5000) {
        lastReport = elapsed
        process.stderr.write(`waiting for the gateway (pid ${target.pid}) to stop… ${(elapsed / 1000).toFixed(0)}s\n`)
      }
      yield* Effect.sleep(Duration.millis(100))
    }
    if (tty) process.stderr.write("\n")
    return true
  })

const markOnly = (paths: HomePaths, pidText: string | undefined) =>
  Effect.gen(function*() {
    if (pidText === undefined || pidText.trim() === "") {
      yield* say("no pid given (the service has no main process); nothing to mark")
      return
    }
    const pid = Number(pidText)
    if (!Number.isInteger(pid) || pid <= 0) {
      return yield* new UsageError({ message: `--pid: expected a process id, got "${pidText}"` })
    }
    const startTime = readStartTime(pid)
    if (startTime === undefined) {
      yield* say(`pid ${pid} is not running; nothing to mark`)
      return
    }
    yield* writePlannedStopMarker(paths, { pid, startTime }, "stop")
    yield* say(`planned-stop marker written for pid ${pid}`)
  })

export const stopCommand = Command.make("stop", {
  home: homeOption,
  timeout: Options.text("timeout").pipe(
    Options.withDescription("how long to wait for the gateway to exit (e.g. 40s; default: its hard shutdown deadline + 5s)"),
    Options.optional
  ),
  force: Options.boolean("force").pipe(
    Options.withDescription("SIGKILL the gateway if it is still running after the timeout (identity re-checked first)")
  ),
  markOnly: Options.boolean("mark-only").pipe(
    Options.withDescription("only write the planned-stop marker for --pid and return (for supervisor stop hooks)")
  ),
  pid: Options.text("pid").pipe(
    Options.withDescription("with --mark-only: the process to mark; empty or dead is a no-op"),
    Options.optional
  )
}, ({ force, home, markOnly: onlyMark, pid, timeout }) =>
  Effect.gen(function*() {
    const paths = resolvePaths(home)
    if (onlyMark) return yield* markOnly(paths, Option.getOrUndefined(pid))
    if (Option.isSome(pid)) return yield* new UsageError({ message: "--pid is only used with --mark-only" })

    const config = yield* loadConfig({ file: paths.config, env: process.env }).pipe(
      Effect.catchAll((error) =>
        Effect.sync(() => {
          process.stderr.write(`warning: ${error.message}; using default shutdown budget\n`)
          return defaultConfig
        })
      )
    )
    const wait = Option.isSome(timeout)
      ? yield* Either.match(parseDuration(timeout.value), {
        onLeft: (reason) => Effect.fail(new UsageError({ message: `--timeout: ${reason}` })),
        onRight: Effect.succeed
      })
      : minimumKillTimeout(budgetOf(config))

    const target = yield* findGateway(paths)
    if (target._tag === "NotRunning") {
      yield* say(`gateway is not running (${target.note})`)
      return
    }
    const { identity } = target
    yield* writePlannedStopMarker(paths, identity, "stop")
    // Re-check identity right before signalling: the pid must still be that gateway.
    if (!isSameProcess(identity)) {
      yield* say(`gateway (pid ${identity.pid}) exited on its own`)
      return
    }
    process.kill(identity.pid, "SIGTERM")
    yield* say(`stopping gateway (pid ${identity.pid})`)
    if (yield* waitForExit(identity, wait)) {
      yield* say("gateway stopped")
      return
    }
    if (!force) {
      return yield* new StopFailed({
        message: `gateway (pid ${identity.pid}) is still running after ${Duration.format(wait)}; ` +
          "it may be draining long turns. Wait, or pass --force to kill it."
      })
    }
    if (!isSameProcess(identity)) {
      yield* say("gateway stopped")
      return
    }
    process.kill(identity.pid, "SIGKILL")
    yield* say(`gateway (pid ${identity.pid}) did not stop within ${Duration.format(wait)}; sent SIGKILL`)
    if (!(yield* waitForExit(identity, Duration.seconds(5)))) {
      return yield* new StopFailed({ message: `gateway (pid ${identity.pid}) survived SIGKILL` })
    }
  })).pipe(Command.withDescription(
    "Stop the running gateway: writes a planned-stop marker naming it, sends SIGTERM and waits. " +
      "A planned stop exits 0 and stays stopped."
  ))
