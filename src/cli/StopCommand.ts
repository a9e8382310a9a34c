// `hermes gateway stop`: announce a planned stop with the marker, then SIGTERM, then wait.
// `--mark-only --pid=PID` only writes the marker (for ExecStop=, preStop hooks, control scripts).
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { formatDuration, parseDuration } from "../config/Duration.js"
import { boundsProblem, stopWaitBounds } from "../config/DurationBounds.js"
import { loadConfig } from "../config/LoadConfig.js"
import { defaultConfig } from "../config/GatewayConfig.js"
import { readJsonSync, writeJsonAtomic } from "../home/AtomicFile.js"
import type { HomePaths } from "../home/HomePaths.js"
import { PlannedStopDocument, type StopAction } from "../home/PlannedStopFile.js"
import { isSameProcess, type ProcessIdentity, readStartTime } from "../home/ProcessIdentity.js"
import { GatewayStateDocument } from "../home/GatewayStateFile.js"
import { ownerForWrite } from "../home/HomeOwner.js"
import { controlRoute } from "../supervision/ControlRoute.js"
import type { DetectedSupervisor } from "../supervision/Detection.js"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { minimumKillTimeout } from "../lifecycle/ShutdownBudget.js"
import { evaluateMarker } from "../lifecycle/StopClassification.js"
import { findGateway, verifyGateway } from "./GatewayTarget.js"
import { markOnlyVerdict, parseMarkOnlyPid } from "./MarkOnlyTarget.js"
import { readHandOff, stopTargetDuringHandOff } from "./HandOff.js"
import { runBounded } from "../supervision/CommandOutput.js"
import { homeOption, resolvePaths } from "./HomeOption.js"
import { UsageError } from "./UsageError.js"
import { budgetOf } from "./RunCommand.js"

export class StopFailed extends ExitingError("StopFailed", ExitCode.CommandFailed)<{
  readonly message: string
}> {}

const say = (line: string) => Effect.sync(() => process.stdout.write(line + "\n"))
const note = (line: string) => Effect.sync(() => void process.stderr.write(`hermes: ${line}\n`))

/** The marker belongs to the home's owner (the gateway's user) even when root writes it: CONTRACT 1. */
export const writePlannedStopMarker = (paths: HomePaths, target: ProcessIdentity, action: StopAction) =>
  ownerForWrite(paths.dir, "the planned-stop marker").pipe(
    Effect.flatMap((owner) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        writeJsonAtomic(paths.plannedStop, {
          target_pid: target.pid,
          target_start_time: target.startTime,
          action,
          stopper_pid: process.pid,
          written_at: new Date(now).toISOString()
        }, owner))
    ),
    Effect.mapError((error) => new StopFailed({ message: error.message }))
  )

/**
 * A user who could not hand a marker to the home's owner cannot see that user's gateway either
 * (gateway.pid, the control socket and /proc/PID/fd are private): say so before looking, instead
 * of reporting a gateway that could not be seen as not running.
 */
const stopperMayMark = (paths: HomePaths) =>
  ownerForWrite(paths.dir, "the planned-stop marker").pipe(
    Effect.asVoid,
    Effect.mapError((error) => new StopFailed({ message: error.message }))
  )

/** Waits until the incarnation is gone; shows progress on a terminal, a line every 5 s otherwise. */
const waitForExit = (target: ProcessIdentity, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const limit = Duration.toMillis(timeout)
    const tty = process.stderr.isTTY === true
    let lastReport = 0
    while (isSameProcess(target)) {
      const elapsed = (yield* Clock.currentTimeMillis) - started
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

/** A stop hook: quiet when it marks, one stderr line when it has nothing to do (exit 0 either way). */
const markOnly = (paths: HomePaths, pidText: string | undefined) =>
  Effect.gen(function*() {
    const asked = parseMarkOnlyPid(pidText)
    if (asked._tag === "Nothing") return yield* note(asked.reason)
    const pid = asked.pid
    const startTime = readStartTime(pid)
    if (startTime === undefined) return yield* note(`pid ${pid} is not running; nothing to mark`)
    const gateway = yield* findGateway(paths)
    const verdict = markOnlyVerdict({ pid, startTime }, gateway._tag === "Running" ? gateway.identity : undefined, paths.dir)
    if (verdict._tag === "Refuse") return yield* new StopFailed({ message: verdict.message })
    // `hermes gateway restart` under systemd runs `systemctl restart`, whose ExecStop= lands here:
    // a fresh restart marker for this same incarnation is the stopper's intent and is kept.
    const existing = evaluateMarker(
      readJsonSync(paths.plannedStop, PlannedStopDocument),
      { pid, startTime },
      yield* Clock.currentTimeMillis,
      Duration.toMillis(defaultConfig.gateway.marker_ttl)
    )
    if (existing.applies === "restart") return yield* note(`a restart marker for pid ${pid} is already in place; kept`)
    yield* writePlannedStopMarker(paths, { pid, startTime }, "stop")
  })

/** The supervisor recorded by the running gateway itself (gateway_state.json), if it is this one. */
const recordedSupervisor = (paths: HomePaths, target: ProcessIdentity): DetectedSupervisor | null => {
  const state = readJsonSync(paths.state, GatewayStateDocument)
  return state._tag === "Valid" && state.value.pid === target.pid ? state.value.supervisor : null
}

/** The supervisor's own stop/restart command; killed if it takes longer than two minutes. */
const runCommand = (command: ReadonlyArray<string>) =>
  runBounded(command[0]!, command.slice(1), Duration.minutes(2)).pipe(
    Effect.map(Option.match({
      onNone: () => ({ ok: false, output: "no answer within 2 minutes" }),
      onSome: (done) => ({
        ok: done.exitCode === 0,
        output: `${done.stdout}${done.stderr}`.trim() || `exited with ${done.exitCode}`
      })
    })),
    Effect.catchAll((error) => Effect.succeed({ ok: false, output: error.message }))
  )

/**
 * Marker first, then the owning supervisor's own command (so it does not restart what we stop),
 * else a signal. Identity is re-checked right before signalling.
 */
export const requestStop = (paths: HomePaths, target: ProcessIdentity, action: StopAction) =>
  Effect.gen(function*() {
    const route = controlRoute(recordedSupervisor(paths, target), action)
    yield* writePlannedStopMarker(paths, target, route.marker)
    if (route.command !== null) {
      yield* say(`${action === "stop" ? "stopping" : "restarting"} gateway (pid ${target.pid}) through ${route.via}: ${route.command.join(" ")}`)
      const result = yield* runCommand(route.command)
      if (result.ok) return
      process.stderr.write(`warning: ${route.command[0]} failed (${result.output}); signalling the gateway directly\n`)
    }
    const check = verifyGateway(paths, target)
    if (check._tag === "Rejected") {
      yield* say(`not signalling pid ${target.pid}: ${check.reason}`)
      return
    }
    process.kill(target.pid, route.signal)
    yield* say(`${action === "stop" ? "stopping" : "restarting"} gateway (pid ${target.pid})`)
  })

/**
 * Stops `identity` and waits. A restart already past its final state when the stop arrived brings
 * a successor back; the last planned stop wins over a restart, so that successor is stopped too.
 * Returns the incarnation still running when the wait ran out, if any.
 */
const stopFollowingRestarts = (
  paths: HomePaths,
  identity: ProcessIdentity,
  wait: Duration.Duration,
  rounds: number
): Effect.Effect<Option.Option<ProcessIdentity>, StopFailed, CommandExecutor> =>
  Effect.gen(function*() {
    yield* requestStop(paths, identity, "stop")
    if (!(yield* waitForExit(identity, wait))) return Option.some(identity)
    const handOff = yield* readHandOff(paths)
    if (rounds <= 0 || Option.isNone(handOff) || handOff.value.old.pid !== identity.pid) return Option.none()
    yield* say(`gateway (pid ${identity.pid}) was restarting when the stop reached it; stopping its successor`)
    const next = yield* stopTargetDuringHandOff(paths)
    if (Option.isNone(next) || next.value.pid === identity.pid) return Option.none()
    return yield* stopFollowingRestarts(paths, next.value, wait, rounds - 1)
  })

/** gateway_state.json as it is now; undefined when absent or unreadable. */
const currentState = (paths: HomePaths): GatewayStateDocument | undefined => {
  const state = readJsonSync(paths.state, GatewayStateDocument)
  return state._tag === "Valid" ? state.value : undefined
}

/**
 * The incarnation is gone (with its successor, if one came up) and the last final state says an
 * operator stopped it: a stop won over the restart.
 */
const stoppedForGood = (state: GatewayStateDocument | undefined, old: ProcessIdentity): boolean => {
  if (isSameProcess(old)) return false
  if (state === undefined || state.desired_state !== "stopped" || state.gateway_state !== "stopped") return false
  return state.pid === old.pid || state.pid === null || state.start_time === null ||
    !isSameProcess({ pid: state.pid, startTime: state.start_time })
}

/** The state file names this process, running (its start-up is over). */
const saysRunning = (state: GatewayStateDocument | undefined, identity: ProcessIdentity): boolean =>
  state !== undefined && state.pid === identity.pid && state.start_time === identity.startTime && state.gateway_state === "running"

/** The last life recorded a planned stop (whoever ran it). */
const plannedStopRecorded = (state: GatewayStateDocument | undefined): boolean => state?.desired_state === "stopped"

const timeoutOption = Options.text("timeout").pipe(
  Options.withPseudoName("DURATION"),
  Options.withDescription("how long to wait for the gateway to exit (e.g. 40s; default: its hard shutdown deadline + 5s)"),
  Options.optional
)

/** --timeout, else the kill timeout the gateway's own budget asks supervisors for. */
export const waitBudget = (paths: HomePaths, timeout: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isSome(timeout)) {
      return yield* Either.match(parseDuration(timeout.value), {
        onLeft: (reason) => Effect.fail(new UsageError({ message: `--timeout: ${reason}` })),
        onRight: (wait) => {
          const problem = boundsProblem(wait, stopWaitBounds)
          return problem === undefined ? Effect.succeed(wait) : Effect.fail(new UsageError({ message: `--timeout: ${problem}` }))
        }
      })
    }
    const config = yield* loadConfig({ file: paths.config, env: process.env }).pipe(
      Effect.catchAll((error) =>
        Effect.sync(() => {
          process.stderr.write(`warning: ${error.message}; using default shutdown budget\n`)
          return defaultConfig
        })
      )
    )
    return minimumKillTimeout(budgetOf(config))
  })

export const stopCommand = Command.make("stop", {
  home: homeOption,
  timeout: timeoutOption,
  force: Options.boolean("force").pipe(
    Options.withDescription("SIGKILL the gateway if it is still running after the timeout (identity re-checked first)")
  ),
  markOnly: Options.boolean("mark-only").pipe(
    Options.withDescription("only write the planned-stop marker for --pid and return (for supervisor stop hooks)")
  ),
  pid: Options.text("pid").pipe(
    Options.withDescription("with --mark-only: the process to mark; empty, unexpanded, not a pid, or dead is a no-op (exit 0)"),
    Options.optional
  )
}, ({ force, home, markOnly: onlyMark, pid, timeout }) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    if (onlyMark) return yield* markOnly(paths, Option.getOrUndefined(pid))
    if (Option.isSome(pid)) return yield* new UsageError({ message: "--pid is only used with --mark-only" })
    const wait = yield* waitBudget(paths, timeout)
    yield* stopperMayMark(paths)

    const target = yield* findGateway(paths)
    // Between a restarting gateway and its successor nobody holds the home: stop what comes back.
    const handOff = target._tag === "NotRunning" && Option.isSome(yield* readHandOff(paths))
    if (handOff) yield* say("a restart is under way; stopping the gateway it brings back")
    const found = target._tag === "Running" ? Option.some(target.identity) : yield* stopTargetDuringHandOff(paths)
    if (Option.isNone(found)) {
      yield* say(`gateway is not running (${target._tag === "NotRunning" ? target.note : "it exited"}${handOff ? "; no successor came up" : ""})`)
      return
    }
    const left = yield* stopFollowingRestarts(paths, found.value, wait, 3)
    if (Option.isNone(left)) {
      yield* say("gateway stopped")
      return
    }
    const identity = left.value
    if (!force) {
      return yield* new StopFailed({
        message: `gateway (pid ${identity.pid}) is still running after ${formatDuration(wait)}; ` +
          "it may be draining long turns. Wait, or pass --force to kill it."
      })
    }
    if (!isSameProcess(identity)) {
      yield* say("gateway stopped")
      return
    }
    const check = verifyGateway(paths, identity)
    if (check._tag === "Rejected") {
      return yield* new StopFailed({ message: `not sending SIGKILL to pid ${identity.pid}: ${check.reason}` })
    }
    process.kill(identity.pid, "SIGKILL")
    yield* say(`gateway (pid ${identity.pid}) did not stop within ${formatDuration(wait)}; sent SIGKILL`)
    if (!(yield* waitForExit(identity, Duration.seconds(5)))) {
      return yield* new StopFailed({ message: `gateway (pid ${identity.pid}) survived SIGKILL` })
    }
  })).pipe(Command.withDescription(
    "Stop the running gateway: writes a planned-stop marker naming it, then asks its supervisor " +
      "(systemctl, s6-svc, sv, supervisorctl) or sends SIGTERM, and waits. A planned stop exits 0 and stays stopped."
  ))

export const restartCommand = Command.make("restart", { home: homeOption, timeout: timeoutOption }, ({ home, timeout }) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    const wait = yield* waitBudget(paths, timeout)
    yield* stopperMayMark(paths)
    const target = yield* findGateway(paths)
    // A restart already under way (no gateway holds the home yet) is this one: wait for its successor.
    const underWay = target._tag === "NotRunning" ? yield* readHandOff(paths) : Option.none()
    if (target._tag === "NotRunning" && Option.isNone(underWay)) {
      return yield* new StopFailed({ message: `gateway is not running (${target.note}); start it with \`hermes gateway run\`` })
    }
    const old = target._tag === "Running" ? target.identity : Option.getOrThrow(underWay).old
    if (target._tag === "Running") yield* requestStop(paths, old, "restart")
    else yield* say(`a restart of the gateway (pid ${old.pid}) is already under way; waiting for its successor`)
    // Done when a new incarnation holds the home and says it is running (adapters connected, turns
    // taken), not merely that it holds the lock: `restart && status` then shows the new process, and
    // a successor that dies while starting is a failed restart. It is started by the supervisor, or,
    // alone in a terminal, by the old process, which stays behind as its parent.
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(wait) + 60_000
    let starting: ProcessIdentity | undefined
    while ((yield* Clock.currentTimeMillis) < deadline) {
      const next = yield* findGateway(paths)
      // One reading of the state file per poll, for every check below.
      const state = currentState(paths)
      if (next._tag === "Running" && next.identity.pid !== old.pid) {
        if (saysRunning(state, next.identity)) {
          yield* say(`gateway restarted (pid ${old.pid} → ${next.identity.pid})`)
          return
        }
        starting = next.identity
      }
      if (next._tag === "NotRunning" && (stoppedForGood(state, old) || (starting !== undefined && plannedStopRecorded(state)))) {
        return yield* new StopFailed({ message: `gateway (pid ${old.pid}) was stopped by a planned stop, which wins over a restart; it is not running` })
      }
      if (next._tag === "NotRunning" && starting !== undefined && !isSameProcess(starting)) {
        return yield* new StopFailed({
          message: `the new gateway (pid ${starting.pid}) exited while starting; see ${paths.logs} and \`hermes gateway report\``
        })
      }
      yield* Effect.sleep(Duration.millis(200))
    }
    return yield* new StopFailed({ message: `no new gateway came up within ${formatDuration(wait)} + 60s after asking pid ${old.pid} to restart` })
  })).pipe(Command.withDescription(
    "Restart the running gateway: it drains like a stop, then its supervisor (or, alone in a " +
      "terminal, the gateway itself) starts a new process."
  ))
