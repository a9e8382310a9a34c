// Restart without a supervisor (CONTRACT 3.4): once this gateway has shut down and released its
// home, it starts its successor in the same terminal with the same arguments and stays behind as
// a thin parent that forwards signals and returns the successor's exit code. The successor is
// told it is supervised by this parent, so its own restarts exit 75 and the parent starts the
// next one: the chain never grows deeper than one parent.
//
// The parent is still the incarnation a stopper may have found a moment ago, so it reads the
// planned-stop marker like the gateway did: a planned stop naming it is passed on as a planned stop
// of the successor (the last planned stop wins over the restart), a restart naming it is the one
// already under way, and anything else is passed on as it came.
//
// The successor is spawned with child_process, not @effect/platform's Command: Command's executor
// always spawns detached (a new session), which would take the successor out of the terminal's
// foreground process group, so Ctrl+C would no longer reach it (CONTRACT 3.4), and its scope kills the
// child's process group on release, while a successor that has taken over the home must outlive us.
// Interruption is handled here instead: only a hand-off that has not completed stops the successor.
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import { constants } from "node:os"
import { readJsonSync, removeFileSync, writeJsonAtomicSync } from "../home/AtomicFile.js"
import { GatewayStateDocument } from "../home/GatewayStateFile.js"
import { appendLifecycleSync } from "../home/HomeStore.js"
import { PlannedStopDocument } from "../home/PlannedStopFile.js"
import { type ProcessIdentity, readStartTime } from "../home/ProcessIdentity.js"
import { ExitCode } from "./ExitCode.js"
import { installSignalHub, type ProcessSignal } from "./SignalHub.js"
import { evaluateMarker, type MarkerVerdict } from "./StopClassification.js"

/** The HERMES_SUPERVISOR value a successor runs under. */
export const restartParentKind = "hermes-restart-parent"

export interface SuccessorSettings {
  readonly argv: ReadonlyArray<string>
  /** The home's planned-stop marker file. */
  readonly plannedStopFile: string
  /** gateway_state.json and logs/lifecycle.jsonl, for a restart a planned stop cancelled. */
  readonly stateFile: string
  readonly lifecycleLog: string
  /** This process: the gateway incarnation stoppers know. */
  readonly self: ProcessIdentity
  readonly markerTtlMs: number
}

/**
 * What the parent does with a signal. `leave`: Ctrl+C reaches the successor from the terminal
 * itself (same process group). `stop`: a planned stop of this incarnation (a marked SIGTERM/SIGHUP,
 * or a Ctrl+C that came before the successor existed), passed on as a planned stop of the
 * successor. `coalesce`: a restart of this incarnation, which is the one under way.
 *
 * Until the successor has taken over the home, the parent is still the incarnation that decided to
 * restart, and an unmarked SIGTERM/SIGHUP is a second signal of that decision: it cannot turn the
 * restart into anything else (CONTRACT 3.2). Concurrent `restart` commands produce exactly that:
 * each writes its marker and signals, markers overwrite one another, and the gateway consumes them,
 * so a late signal finds none. Passed on, it would kill a successor still loading and end the home
 * with no gateway at all. Once the successor holds the home, signals are its own again.
 */
export type ParentAction = "leave" | "stop" | "coalesce" | "forward"

export const parentAction = (
  signal: ProcessSignal,
  marker: MarkerVerdict | null,
  arrivedBeforeSuccessor = false,
  successorHoldsHome = true
): ParentAction => {
  // A Ctrl+C that came before the successor existed never reached it: it is a planned stop to pass on.
  if (signal === "SIGINT") return arrivedBeforeSuccessor ? "stop" : "leave"
  if (signal === "SIGTERM" || signal === "SIGHUP") {
    if (marker?.applies === "stop") return "stop"
    if (marker?.applies === "restart" || !successorHoldsHome) return "coalesce"
  }
  return "forward"
}

/** The successor has taken over the home once the state file names it. */
const holdsHome = (settings: SuccessorSettings, pid: number): boolean => {
  const state = readJsonSync(settings.stateFile, GatewayStateDocument)
  return state._tag === "Valid" && state.value.pid === pid
}

/**
 * How the chain ends once a successor exited: a planned stop passed on wins over its restart (75)
 * and over its death by the very signal we passed on before it could run code of its own.
 */
export const chainOutcome = (exit: SuccessorExit): { readonly done: boolean; readonly code: number } => {
  if (exit.stopPassedOn && (exit.code === ExitCode.PlannedStop || exit.code === ExitCode.Restart || diedByStop(exit))) {
    return { done: true, code: ExitCode.PlannedStop }
  }
  return { done: exit.code !== ExitCode.Restart, code: exit.code }
}

/** The successor died by the stop signal passed on, before its own handlers were in place. */
const diedByStop = (exit: SuccessorExit): boolean => exit.signal === "SIGTERM" || exit.signal === "SIGINT"

export interface SuccessorExit {
  readonly pid?: number | undefined
  readonly code: number
  readonly signal: NodeJS.Signals | null
  readonly stopPassedOn: boolean
}

const say = (line: string): void => {
  process.stderr.write(`hermes: ${line}\n`)
}

const readMarker = (settings: SuccessorSettings, nowMs: number): MarkerVerdict => {
  const verdict = evaluateMarker(
    readJsonSync(settings.plannedStopFile, PlannedStopDocument),
    settings.self,
    nowMs,
    settings.markerTtlMs
  )
  if (verdict.file === "consume") {
    try {
      removeFileSync(settings.plannedStopFile)
    } catch {
      // left for the successor, which treats a marker naming another process as not its own
    }
  }
  return verdict
}

/** Writes a planned-stop marker naming the successor, so that the SIGTERM that follows is planned. */
const markSuccessorForStop = (settings: SuccessorSettings, pid: number, nowMs: number): void => {
  const startTime = readStartTime(pid)
  if (startTime === undefined) return
  try {
    writeJsonAtomicSync(settings.plannedStopFile, {
      target_pid: pid,
      target_start_time: startTime,
      action: "stop",
      stopper_pid: settings.self.pid,
      written_at: new Date(nowMs).toISOString()
    })
  } catch (error) {
    say(`cannot write the planned-stop marker for the successor (pid ${pid}): ${String(error)}`)
  }
}

// The signal hub calls back outside any fiber, so the time comes from the fiber's Clock, read there.
const runOnce = (settings: SuccessorSettings) =>
  Effect.flatMap(Effect.clock, (clock) => Effect.async<SuccessorExit>((resume) => {
    let stopPassedOn = false
    const child = spawn(process.execPath, [...process.execArgv, ...settings.argv], {
      stdio: "inherit",
      env: { ...process.env, HERMES_SUPERVISOR: restartParentKind }
    })
    let successorStarted = false
    const passOn = (signal: ProcessSignal): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      const marker = signal === "SIGTERM" || signal === "SIGHUP" ? readMarker(settings, clock.unsafeCurrentTimeMillis()) : null
      switch (parentAction(signal, marker, !successorStarted, holdsHome(settings, child.pid))) {
        case "leave":
          return
        case "coalesce":
          say(marker?.applies === "restart"
            ? `${signal} asks this gateway (pid ${settings.self.pid}) to restart: already restarting (successor pid ${child.pid})`
            : `${signal} while the successor (pid ${child.pid}) is still starting: the restart under way stands`)
          return
        case "stop":
          say(`${signal} is a planned stop of this gateway (pid ${settings.self.pid}): stopping its successor (pid ${child.pid}) as planned`)
          stopPassedOn = true
          if (signal === "SIGINT") {
            child.kill("SIGINT")
            return
          }
          markSuccessorForStop(settings, child.pid, clock.unsafeCurrentTimeMillis())
          child.kill("SIGTERM")
          return
        case "forward":
          child.kill(signal)
      }
    }
    // Signals that arrived since the gateway gave them up are delivered here first.
    const release = installSignalHub().claim(passOn)
    successorStarted = true
    child.on("exit", (code, signal) => {
      release()
      resume(Effect.succeed({ pid: child.pid, code: code ?? 128 + (signal === null ? 0 : constants.signals[signal]), signal, stopPassedOn }))
    })
    child.on("error", (error) => {
      release()
      say(`cannot start the successor: ${error.message}`)
      resume(Effect.succeed({ code: ExitCode.Software, signal: null, stopPassedOn }))
    })
    // Interrupted (never by a signal: those are claimed above). Once the successor holds the home the
    // hand-off has succeeded and it is the gateway now: it outlives us. Before that it is a hand-off
    // that failed, and a half-started successor is stopped rather than left running unowned.
    return Effect.suspend(() => {
      release()
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Effect.void
      if (holdsHome(settings, child.pid)) return Effect.void
      say(`restart hand-off interrupted: stopping the successor (pid ${child.pid}) that had not taken over the home`)
      return stopChild(child)
    })
  }))

/** SIGTERM, then SIGKILL if it is still there after a few seconds; done when it has exited. */
const stopChild = (child: ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGTERM")
  }).pipe(
    Effect.timeoutOption(Duration.seconds(5)),
    Effect.flatMap(Option.match({
      onSome: () => Effect.void,
      onNone: () =>
        Effect.async<void>((resume) => {
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGKILL")
        })
    }))
  )

/**
 * The successor died by the planned stop passed on before it could run code of its own, so it never
 * wrote a state: the final state left by this incarnation (a restart) is corrected to the planned
 * stop that won, so that `boot` keeps it stopped and `stop` does not wait for a successor.
 */
const recordRestartCancelled = (settings: SuccessorSettings, successorPid: number | undefined, nowMs: number): void => {
  const state = readJsonSync(settings.stateFile, GatewayStateDocument)
  if (state._tag !== "Valid" || state.value.pid !== settings.self.pid) return
  const at = new Date(nowMs).toISOString()
  const exitReason = `planned stop during the restart hand-off: the successor (pid ${successorPid ?? "-"}) was stopped before it started`
  try {
    writeJsonAtomicSync(settings.stateFile, GatewayStateDocument.make({
      ...state.value,
      desired_state: "stopped",
      restart_requested: false,
      exit_code: ExitCode.PlannedStop,
      exit_reason: exitReason,
      updated_at: at,
      shutdown: state.value.shutdown === null ? null : { ...state.value.shutdown, classification: "planned", exit_code: 0 }
    }))
    appendLifecycleSync(settings.lifecycleLog, {
      event: "restart_cancelled",
      at,
      pid: settings.self.pid,
      start_time: settings.self.startTime,
      successor_pid: successorPid ?? null,
      exit_code: ExitCode.PlannedStop,
      exit_reason: exitReason
    })
  } catch (error) {
    say(`cannot record the cancelled restart: ${String(error)}`)
  }
}

/** Under nohup, cron or a container there is no terminal to speak of: the successor is our child. */
export const successorStartLine = (inTerminal: boolean): string =>
  `restart requested and no supervisor: starting the successor ${inTerminal ? "in this terminal" : "as a child of this process"}`

/** Runs successors until one ends other than with a restart; its code becomes ours. */
export const runSuccessors = (settings: SuccessorSettings): Effect.Effect<number> =>
  Effect.gen(function*() {
    yield* Effect.log(successorStartLine(process.stdin.isTTY === true))
    const exit = yield* runOnce(settings)
    const outcome = chainOutcome(exit)
    if (exit.stopPassedOn && diedByStop(exit)) recordRestartCancelled(settings, exit.pid, yield* Clock.currentTimeMillis)
    return outcome.done ? outcome.code : yield* runSuccessors(settings)
  })
